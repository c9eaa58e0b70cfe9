package onboard_test

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/session/onboard"
	"github.com/civic-platform/security/session/secrets"
	"github.com/civic-platform/security/session/signin"
)

func newSignin(t *testing.T, users signin.Store, now func() time.Time) *signin.Service {
	t.Helper()
	line, err := secrets.GenerateKey("test-1")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secrets.ParseKeys(line)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := secrets.NewSealer(keys)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := signin.New(users, sealer, signin.WithClock(now))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

var linkRE = regexp.MustCompile(`https://\S+\?token=\S+`)

func TestActivationLink(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, cityModel())
	si := newSignin(t, h.users, h.now)
	act, err := onboard.NewActivator([]byte(strings.Repeat("k", 32)), "https://iam.lakeview.ca/activate", 0, h.users, si, h.now)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := onboard.New(h.users, h.store, h.admin, onboard.WithMailer(h.mail), onboard.WithActivation(act), onboard.WithClock(h.now))
	if err != nil {
		t.Fatal(err)
	}
	rec := bylawOfficer()
	rec.Language = "en"
	res, err := svc.Onboard(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	link := linkRE.FindString(res.Welcome.Text)
	if link == "" || strings.Contains(res.Welcome.Text, "network password") {
		t.Fatalf("welcome without a one-time link: %s", res.Welcome.Text)
	}
	for _, ev := range h.events.all {
		for _, v := range ev.Detail {
			if strings.Contains(v, "token=") {
				t.Fatalf("the link reached an event: %+v", ev)
			}
		}
	}
	u, _ := url.Parse(link)
	token := u.Query().Get("token")

	// Bad tokens, one error for all.
	forged := []byte(token)
	forged[len(forged)-2] ^= 1
	for name, tok := range map[string]string{
		"empty": "", "no mac": strings.Split(token, ".")[0], "forged": string(forged), "huge": strings.Repeat("A", 1<<20),
		"other user": strings.Replace(token, ".", "x.", 1), "alg none": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
	} {
		if _, err := act.Redeem(ctx, tok, "a long enough pass phrase"); !errors.Is(err, onboard.ErrInvalidLink) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A weak password is the policy's error, and the link stays usable.
	if _, err := act.Redeem(ctx, token, "short"); err == nil || errors.Is(err, onboard.ErrInvalidLink) {
		t.Fatalf("weak password: %v", err)
	}
	const pw = "trois pommes vertes au marché"
	if _, err := act.Redeem(ctx, token, pw); err != nil {
		t.Fatalf("Redeem: %v", err)
	}
	if _, err := si.SignIn(ctx, signin.Attempt{Email: "julie.tremblay@lakeview.ca", Password: pw, Client: "198.51.100.7"}); err != nil {
		t.Fatalf("first sign-in: %v", err)
	}
	// One time only.
	if _, err := act.Redeem(ctx, token, "another long pass phrase"); !errors.Is(err, onboard.ErrInvalidLink) {
		t.Fatalf("second use: %v", err)
	}
}

func TestActivationLinkExpiresAndDiesWithTheAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, cityModel())
	si := newSignin(t, h.users, h.now)
	act, err := onboard.NewActivator([]byte(strings.Repeat("k", 32)), "https://iam.lakeview.ca/activate", time.Hour, h.users, si, h.now)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := onboard.New(h.users, h.store, h.admin, onboard.WithMailer(h.mail), onboard.WithActivation(act), onboard.WithClock(h.now))
	if err != nil {
		t.Fatal(err)
	}
	rec := bylawOfficer()
	res, err := svc.Onboard(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(linkRE.FindString(res.Welcome.Text))
	token := u.Query().Get("token")
	h.setNow(noon.Add(time.Hour))
	if _, err := act.Redeem(ctx, token, "a long enough pass phrase"); !errors.Is(err, onboard.ErrInvalidLink) {
		t.Fatalf("expired link: %v", err)
	}
	h.setNow(noon)
	if _, err := svc.Offboard(ctx, rec.EmployeeID, "never started"); err != nil {
		t.Fatal(err)
	}
	if _, err := act.Redeem(ctx, token, "a long enough pass phrase"); !errors.Is(err, onboard.ErrInvalidLink) {
		t.Fatalf("link of an offboarded user: %v", err)
	}
	for name, f := range map[string]func() error{
		"short key": func() error {
			_, err := onboard.NewActivator([]byte("short"), "https://x.ca/a", 0, h.users, si, nil)
			return err
		},
		"bad url": func() error {
			_, err := onboard.NewActivator([]byte(strings.Repeat("k", 32)), "javascript:alert(1)", 0, h.users, si, nil)
			return err
		},
		"query in url": func() error {
			_, err := onboard.NewActivator([]byte(strings.Repeat("k", 32)), "https://x.ca/a?x=1", 0, h.users, si, nil)
			return err
		},
	} {
		if err := f(); !errors.Is(err, onboard.ErrInvalidInput) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
