package smtpmail_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/civic-platform/security/adapters/smtpmail"
	"github.com/civic-platform/security/adapters/smtpmail/smtptest"
	"github.com/civic-platform/security/session/onboard"
)

// selfSigned returns a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtp.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestSTARTTLS(t *testing.T) {
	t.Parallel()
	cert, pool := selfSigned(t)
	srv, err := smtptest.StartTLS(&tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	msg := onboard.Message{To: onboard.Address{Name: "Lee", Email: "lee@lakeview.ca"}, Subject: "Welcome", Text: "hi\n"}

	// A server the mailer does not trust: refused before anything is sent.
	untrusted, err := smtpmail.New(srv.Addr(), from, smtpmail.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := untrusted.Send(context.Background(), msg); err == nil {
		t.Fatal("sent over TLS to an untrusted certificate")
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d messages reached an untrusted server", n)
	}

	m, err := smtpmail.New(srv.Addr(), from, smtpmail.WithTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Send(context.Background(), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := srv.Wait(1, 5*time.Second)
	if len(got) != 1 || !got[0].TLS {
		t.Fatalf("received %+v, want one message over TLS", got)
	}
}
