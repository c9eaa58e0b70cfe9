package session_test

import (
	"context"
	"crypto/ecdsa"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/civic-platform/security/session"
)

// BenchmarkVerify compares a cached Verify with a plain golang-jwt ES256
// parse of the same token, and with an uncached Verify (signature, memory
// store read, checks) in the same run.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	key, err := session.GenerateKey(session.ES256, "k1")
	if err != nil {
		b.Fatal(err)
	}
	keys, _ := session.NewKeyring(key)
	newManager := func(opts ...session.Option) *session.Manager {
		m, err := session.New(session.NewMemoryStore(), keys, append([]session.Option{session.WithLogger(quiet)}, opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { m.Close() })
		waitHealthy(b, m)
		return m
	}
	cached := newManager()
	_, tok, err := cached.Create(ctx, session.Start{Subject: "user:alice", Method: session.MethodPassword})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := cached.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cached.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := cached.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	pub := key.Private.(*ecdsa.PrivateKey).Public()
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer("civic-security"),
		jwt.WithAudience("civic-platform"), jwt.WithExpirationRequired())
	b.Run("golang-jwt-ES256", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parser.Parse(tok, func(*jwt.Token) (any, error) { return pub, nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
	uncachedM := newManager(session.WithCache(0))
	_, tok2, err := uncachedM.Create(ctx, session.Start{Subject: "user:bob", Method: session.MethodPassword})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := uncachedM.Verify(ctx, tok2); err != nil {
				b.Fatal(err)
			}
		}
	})
}
