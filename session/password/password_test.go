package password_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/civic-platform/security/session/password"
)

// fast keeps tests quick: the smallest parameters NewHasher accepts.
var fast = password.Params{Memory: 8 * 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newHasher(t testing.TB, opts ...password.Option) *password.Hasher {
	t.Helper()
	h, err := password.NewHasher(append([]password.Option{password.WithParams(fast)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashVerify(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t)
	enc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=8192,t=1,p=1$") {
		t.Fatalf("hash %q lacks its parameters", enc)
	}
	if r, err := h.Verify(ctx, "correct horse battery staple", enc); err != nil || r.Rehash {
		t.Fatalf("Verify = %+v, %v", r, err)
	}
	if _, err := h.Verify(ctx, "correct horse battery stapl", enc); !errors.Is(err, password.ErrMismatch) {
		t.Fatalf("wrong password: err = %v", err)
	}
	enc2, _ := h.Hash(ctx, "correct horse battery staple")
	if enc == enc2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
}

func TestDefaultsAreOWASP(t *testing.T) {
	h, err := password.NewHasher()
	if err != nil {
		t.Fatal(err)
	}
	if p := h.Params(); p.Memory < 19*1024 || p.Time < 2 || p.Threads < 1 {
		t.Fatalf("default params %+v below OWASP m=19MiB,t=2,p=1", p)
	}
	if _, err := password.NewHasher(password.WithParams(password.Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})); err == nil {
		t.Fatal("NewHasher accepted 1 MiB")
	}
}

// A hash made with weaker parameters verifies and asks to be rehashed;
// one made with the current parameters does not.
func TestRehashWhenParamsRaised(t *testing.T) {
	ctx := context.Background()
	old := newHasher(t)
	enc, _ := old.Hash(ctx, "correct horse battery staple")
	raised := fast
	raised.Time = 2
	h := newHasher(t, password.WithParams(raised))
	r, err := h.Verify(ctx, "correct horse battery staple", enc)
	if err != nil || !r.Rehash {
		t.Fatalf("Verify old hash = %+v, %v; want Rehash", r, err)
	}
	enc2, _ := h.Hash(ctx, "correct horse battery staple")
	if r, err := h.Verify(ctx, "correct horse battery staple", enc2); err != nil || r.Rehash {
		t.Fatalf("Verify new hash = %+v, %v", r, err)
	}
}

// NFC and NFD spellings (and NFKC-equivalent forms) of one password are
// the same password.
func TestNormalisationVariantsVerify(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t)
	nfc := "mot de passe d\u00e9j\u00e0 vu 2026"
	nfd := "mot de passe de\u0301ja\u0300 vu 2026"
	enc, err := h.Hash(ctx, nfc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Verify(ctx, nfd, enc); err != nil {
		t.Fatalf("NFD spelling: %v", err)
	}
	fullwidth := "mot de passe d\u00e9j\u00e0 vu \uff12\uff10\uff12\uff16"
	if _, err := h.Verify(ctx, fullwidth, enc); err != nil {
		t.Fatalf("full-width digits: %v", err)
	}
	if _, err := h.Verify(ctx, "mot de passe deja vu 2026", enc); !errors.Is(err, password.ErrMismatch) {
		t.Fatalf("accents dropped: err = %v, want mismatch", err)
	}
}

func TestInvalidInputRefusedBeforeHashing(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t)
	enc, _ := h.Hash(ctx, "correct horse battery staple")
	for name, pw := range map[string]string{
		"empty":  "",
		"1MB":    strings.Repeat("a", 1<<20),
		"NUL":    "correct horse\x00battery staple",
		"badUTF": "correct horse \xff battery",
		"1KiB+1": strings.Repeat("a", password.MaxBytes+1),
	} {
		start := time.Now()
		if _, err := h.Hash(ctx, pw); !errors.Is(err, password.ErrInvalid) {
			t.Errorf("%s: Hash err = %v, want ErrInvalid", name, err)
		}
		if _, err := h.Verify(ctx, pw, enc); !errors.Is(err, password.ErrInvalid) {
			t.Errorf("%s: Verify err = %v, want ErrInvalid", name, err)
		}
		if err := (password.Policy{}).Check(pw); !errors.Is(err, password.ErrInvalid) {
			t.Errorf("%s: Check err = %v, want ErrInvalid", name, err)
		}
		_ = start
	}
}

func TestVerifyDummy(t *testing.T) {
	h := newHasher(t)
	if err := h.VerifyDummy(context.Background(), "anything at all"); !errors.Is(err, password.ErrMismatch) {
		t.Fatalf("VerifyDummy = %v, want ErrMismatch", err)
	}
}

func TestMalformedHashes(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t)
	good, _ := h.Hash(ctx, "correct horse battery staple")
	f := strings.Split(good, "$")
	for _, bad := range []string{
		"", "$", "plaintext", "$argon2i$v=19$m=8192,t=1,p=1$" + f[4] + "$" + f[5],
		"$argon2id$v=16$m=8192,t=1,p=1$" + f[4] + "$" + f[5],
		"$argon2id$v=19$t=1,m=8192,p=1$" + f[4] + "$" + f[5],
		"$argon2id$v=19$m=08192,t=1,p=1$" + f[4] + "$" + f[5],
		"$argon2id$v=19$m=8192,t=1,p=0$" + f[4] + "$" + f[5],
		"$argon2id$v=19$m=4194304,t=1,p=1$" + f[4] + "$" + f[5], // 4 GiB
		"$argon2id$v=19$m=8192,t=1000,p=1$" + f[4] + "$" + f[5],
		"$argon2id$v=19$m=8192,t=1,p=1$$" + f[5],
		"$argon2id$v=19$m=8192,t=1,p=1$" + f[4] + "$",
		"$argon2id$v=19$m=8192,t=1,p=1$" + f[4] + "$" + f[5] + "$",
		"$argon2id$v=19$m=8192,t=1,p=1$" + f[4] + "=$" + f[5],
		good + strings.Repeat("A", 600),
	} {
		if _, err := h.Verify(ctx, "correct horse battery staple", bad); !errors.Is(err, password.ErrMalformedHash) {
			t.Errorf("Verify(%q) err = %v, want ErrMalformedHash", bad, err)
		}
	}
}

func TestPolicy(t *testing.T) {
	var p password.Policy
	for _, tc := range []struct {
		pw   string
		ctx  []string
		want error
	}{
		{"correct horse battery staple", nil, nil},
		{"tiny1", nil, password.ErrWeak},
		{"Adm1n!2345678", nil, password.ErrWeak},
		{"Tr0ub4dor&3 horse", nil, nil},
		{"Password123!", nil, password.ErrWeak}, // common, any case
		{"P@ssw0rd1234", nil, password.ErrWeak},
		{"montreal2024", nil, password.ErrWeak},
		{"qwertyuiop123", nil, password.ErrWeak},
		{strings.Repeat("x", 129), nil, password.ErrWeak},
		{"jtremblay-likes-cats", []string{"jtremblay", "E1042"}, password.ErrWeak},
		{"a perfectly fine one", []string{"jo"}, nil}, // short context ignored
		{"", nil, password.ErrInvalid},
	} {
		err := p.Check(tc.pw, tc.ctx...)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("Check(%q) = %v, want %v", tc.pw, err, tc.want)
		}
		if err != nil && tc.pw != "" && strings.Contains(err.Error(), tc.pw) {
			t.Errorf("error %q reveals the password", err)
		}
	}
	if !password.IsCommon("PASSWORD") || password.IsCommon("correct horse battery staple") {
		t.Fatal("IsCommon wrong")
	}
}

// No more hashes run at once than the cap, however many callers.
func TestConcurrencyCap(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, password.WithConcurrency(2))
	enc, _ := h.Hash(ctx, "correct horse battery staple")
	var peak atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if n := int64(h.InFlight()); n > peak.Load() {
				peak.Store(n)
			}
		}
	}()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { _, _ = h.Verify(ctx, "wrong", enc) })
	}
	wg.Wait()
	close(stop)
	<-done
	if p := peak.Load(); p < 1 || p > 2 {
		t.Fatalf("peak in flight = %d, want 1..2", p)
	}
}

// A caller whose context ends while waiting for a slot gives up.
func TestWaitHonoursContext(t *testing.T) {
	h := newHasher(t, password.WithConcurrency(1))
	enc, _ := h.Hash(context.Background(), "correct horse battery staple")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// The slot may be free; fill it so the call must wait.
	var wg sync.WaitGroup
	started := make(chan struct{})
	wg.Go(func() {
		close(started)
		for range 5 {
			_, _ = h.Verify(context.Background(), "x", enc)
		}
	})
	<-started
	deadline := time.Now().Add(5 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if _, err = h.Verify(ctx, "x", enc); errors.Is(err, context.Canceled) {
			break
		}
	}
	wg.Wait()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// FuzzParseHash: the PHC parser never panics, accepts only bounded
// parameters, and what it accepts re-encodes to the same string.
func FuzzParseHash(f *testing.F) {
	h := newHasher(f)
	good, _ := h.Hash(context.Background(), "correct horse battery staple")
	for _, s := range []string{good, "", "$argon2id$v=19$m=1,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=8192,t=1,p=1$$", "$argon2id$v=19$m=18446744073709551616,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", good + "$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := password.ParseHash(s)
		if err != nil {
			if !errors.Is(err, password.ErrMalformedHash) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if p.Memory > 1<<20 || p.Time > 16 || p.Threads > 16 || len(salt) < 8 || len(key) < 16 {
			t.Fatalf("accepted out-of-bounds params %+v", p)
		}
		if !strings.HasPrefix(s, "$argon2id$v=19$m=") {
			t.Fatalf("accepted %q", s)
		}
	})
}
