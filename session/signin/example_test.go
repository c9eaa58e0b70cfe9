package signin_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/civic-platform/security/session/password"
	"github.com/civic-platform/security/session/secrets"
	"github.com/civic-platform/security/session/signin"
	"github.com/civic-platform/security/session/totp"
)

func Example() {
	ctx := context.Background()
	line, _ := secrets.GenerateKey("k1") // in production: secrets.LoadKeyFile
	kp, _ := secrets.ParseKeys(line)
	sealer, _ := secrets.NewSealer(kp)
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	svc, _ := signin.New(signin.NewMemStore(), sealer, signin.WithClock(clock),
		signin.WithTOTP(totp.Config{Issuer: "City of Lakeview"}))

	u, _ := svc.CreateUser(ctx, signin.User{ID: "jtremblay", EmployeeID: "E1042",
		Email: "J.Tremblay@lakeview.ca", DisplayName: "Julie Tremblay", Language: "fr"})
	if err := svc.SetPassword(ctx, u.ID, "Montreal2024!"); errors.Is(err, password.ErrWeak) {
		fmt.Println("refused:", err)
	}
	_ = svc.SetPassword(ctx, u.ID, "correct horse battery staple")

	attempt := signin.Attempt{Email: "j.tremblay@lakeview.ca", Password: "correct horse battery staple", Client: "198.51.100.7"}
	r, err := svc.SignIn(ctx, attempt)
	fmt.Println(r.User.DisplayName, r.Methods, r.MFA, err)

	attempt.Password = "wrong"
	_, err = svc.SignIn(ctx, attempt)
	fmt.Println(err)
	// Output:
	// refused: signin: set password: password: too weak: common or leaked password
	// Julie Tremblay [password] false <nil>
	// signin: invalid email or password
}
