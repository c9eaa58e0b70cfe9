package smtpmail_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
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

func TestImplicitTLS(t *testing.T) {
	t.Parallel()
	cert, pool := selfSigned(t)
	srv, err := smtptest.StartImplicitTLS(&tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	msg := onboard.Message{To: onboard.Address{Name: "Lee", Email: "lee@lakeview.ca"}, Subject: "Welcome", Text: "hi\n"}

	// A certificate the mailer does not trust: nothing is sent.
	untrusted, err := smtpmail.New(srv.Addr(), from, smtpmail.WithImplicitTLS(), smtpmail.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := untrusted.Send(context.Background(), msg); err == nil {
		t.Fatal("sent over implicit TLS to an untrusted certificate")
	}
	// Without WithImplicitTLS the mailer speaks SMTP in clear to a TLS
	// port: it fails, and nothing is delivered.
	plain, err := smtpmail.New(srv.Addr(), from, smtpmail.WithTimeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.Send(context.Background(), msg); err == nil {
		t.Fatal("sent in clear to an SMTPS port")
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d messages delivered without trusted TLS", n)
	}

	m, err := smtpmail.New(srv.Addr(), from, smtpmail.WithImplicitTLS(),
		smtpmail.WithTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}))
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

// farConn is a loopback connection that reports a peer on another
// network, as a connection to a remote relay would.
type farConn struct{ net.Conn }

func (farConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.ParseIP("192.0.2.25"), Port: 25} }

// A server that is not on loopback and offers no STARTTLS gets nothing
// (not the message, not credentials) unless plaintext is allowed
// explicitly; a loopback relay may be plaintext.
func TestPlaintextRefusedOffLoopback(t *testing.T) {
	t.Parallel()
	srv, err := smtptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	far := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return farConn{c}, nil
	}
	msg := onboard.Message{To: onboard.Address{Name: "Lee", Email: "lee@lakeview.ca"}, Subject: "Welcome", Text: "hi\n"}
	for _, opts := range [][]smtpmail.Option{nil, {smtpmail.WithAuth("it", "secret")}} {
		m, err := smtpmail.New(srv.Addr(), from, opts...)
		if err != nil {
			t.Fatal(err)
		}
		smtpmail.SetDial(m, far)
		if err := m.Send(context.Background(), msg); !errors.Is(err, smtpmail.ErrInsecure) {
			t.Fatalf("plaintext to a remote server: %v, want ErrInsecure", err)
		}
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d messages sent in clear to a remote server", n)
	}
	m, err := smtpmail.New(srv.Addr(), from, smtpmail.InsecureAllowPlaintext())
	if err != nil {
		t.Fatal(err)
	}
	smtpmail.SetDial(m, far)
	if err := m.Send(context.Background(), msg); err != nil {
		t.Fatalf("plaintext explicitly allowed: %v", err)
	}
	loop, err := smtpmail.New(srv.Addr(), from)
	if err != nil {
		t.Fatal(err)
	}
	if err := loop.Send(context.Background(), msg); err != nil {
		t.Fatalf("plaintext to a loopback relay: %v", err)
	}
	if got := srv.Wait(2, 5*time.Second); len(got) != 2 || got[0].TLS {
		t.Fatalf("received %+v", got)
	}
}
