package session_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/civic-platform/security/session"
)

// A service signs a staff member in, authenticates their requests with the
// token, and logs them out; the token is refused from then on.
func ExampleManager() {
	ctx := context.Background()
	key, err := session.GenerateKey(session.EdDSA, "2026-03")
	if err != nil {
		fmt.Println("key:", err)
		return
	}
	keys, err := session.NewKeyring(key)
	if err != nil {
		fmt.Println("keyring:", err)
		return
	}
	sessions, err := session.New(session.NewMemoryStore(), keys, session.WithAudience("permits"))
	if err != nil {
		fmt.Println("sessions:", err)
		return
	}
	defer sessions.Close()

	// After the password checked out:
	_, token, err := sessions.Create(ctx, session.Start{Subject: "user:alice", Method: session.MethodPassword})
	if err != nil {
		fmt.Println("sign-in:", err)
		return
	}

	// On each request:
	authenticate := func(token string) {
		s, err := sessions.Verify(ctx, token)
		switch {
		case err == nil:
			fmt.Println("200", s.Subject, s.Methods, s.Level)
		case errors.Is(err, session.ErrInvalidToken):
			fmt.Println("401 sign in again") // bad, expired, logged out or revoked
		default:
			fmt.Println("503 sessions unavailable") // fail closed
		}
	}
	authenticate(token)
	if err := sessions.Logout(ctx, token); err != nil {
		fmt.Println("logout:", err)
		return
	}
	authenticate(token)
	// Output:
	// 200 user:alice password single-factor
	// 401 sign in again
}

// After the password, a staff member who enrolled TOTP gives a code; the
// session that results has a new id and token, and the first is ended.
func ExampleManager_CompleteMFA() {
	ctx := context.Background()
	key, _ := session.GenerateKey(session.ES256, "k1")
	keys, _ := session.NewKeyring(key)
	sessions, err := session.New(session.NewMemoryStore(), keys)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sessions.Close()

	pre, preToken, err := sessions.Create(ctx, session.Start{Subject: "user:alice", Method: session.MethodPassword, MFA: session.MFAPending})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("after the password:", pre.Level, "mfa", pre.MFA)

	// ... the TOTP code checked out:
	post, _, err := sessions.CompleteMFA(ctx, preToken, session.MethodTOTP)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("after the code:", post.Level, "mfa", post.MFA, post.Methods, "new id:", post.ID != pre.ID)
	_, err = sessions.Verify(ctx, preToken)
	fmt.Println("pre-MFA token refused:", errors.Is(err, session.ErrNoSession))
	// Output:
	// after the password: single-factor mfa pending
	// after the code: multi-factor mfa done password+totp new id: true
	// pre-MFA token refused: true
}

// Keys rotate by kid: the new key signs; tokens of the old one verify until
// its retirement time, then are refused.
func ExampleKeyring_Rotate() {
	ctx := context.Background()
	var now atomic.Int64 // the clock, moved by hand below
	now.Store(time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	march, _ := session.GenerateKey(session.EdDSA, "2026-03")
	keys, _ := session.NewKeyring(march)
	sessions, err := session.New(session.NewMemoryStore(), keys, session.WithClock(clock), session.WithIdleTimeout(0))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sessions.Close()
	_, old, _ := sessions.Create(ctx, session.Start{Subject: "user:alice", Method: session.MethodPassword})

	april, _ := session.GenerateKey(session.EdDSA, "2026-04")
	if err := keys.Rotate(april, clock().Add(time.Hour)); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("signing with", keys.SigningKeyID())
	_, err = sessions.Verify(ctx, old)
	fmt.Println("old token before retirement:", err == nil)
	now.Add(int64(time.Hour))
	_, err = sessions.Verify(ctx, old)
	fmt.Println("old token after retirement refused:", errors.Is(err, session.ErrUnknownKey))
	// Output:
	// signing with 2026-04
	// old token before retirement: true
	// old token after retirement refused: true
}
