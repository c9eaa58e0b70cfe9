package smtpmail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/civic-platform/security/session/onboard"
)

var (
	// ErrHeader is returned for a message whose display name, address or
	// subject could not be written as one header line: CR, LF or another
	// control character, or an address that is not one plain address.
	ErrHeader = errors.New("smtpmail: unsafe header value")
	// ErrInsecure is returned when the server offers no STARTTLS and the
	// connection is neither loopback nor allowed by
	// [InsecureAllowPlaintext].
	ErrInsecure = errors.New("smtpmail: server offers no TLS")
)

// Mailer sends [onboard.Message] values over SMTP.
type Mailer struct {
	addr      string
	host      string
	from      onboard.Address
	auth      smtp.Auth
	tlsConfig *tls.Config
	implicit  bool
	plaintext bool
	timeout   time.Duration
	helo      string
	now       func() time.Time
	// dial opens the connection (a net.Dialer by default); tests replace
	// it to see the mailer through a connection whose peer is not
	// loopback.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Option configures a Mailer.
type Option func(*Mailer)

// WithAuth authenticates with AUTH PLAIN as username. net/smtp sends the
// password only over TLS or to a loopback server.
func WithAuth(username, password string) Option {
	return func(m *Mailer) { m.auth = smtp.PlainAuth("", username, password, m.host) }
}

// WithTLSConfig sets the TLS configuration for STARTTLS and implicit TLS
// (default: verify the server name against the host in addr).
func WithTLSConfig(c *tls.Config) Option { return func(m *Mailer) { m.tlsConfig = c } }

// WithImplicitTLS connects with TLS from the first byte (SMTPS, port 465).
func WithImplicitTLS() Option { return func(m *Mailer) { m.implicit = true } }

// InsecureAllowPlaintext sends over an unencrypted connection when the
// server offers no STARTTLS. Use it only for a relay on a network you
// trust.
func InsecureAllowPlaintext() Option { return func(m *Mailer) { m.plaintext = true } }

// WithTimeout bounds one Send, connection to QUIT, when the context has
// no earlier deadline (default 30 s).
func WithTimeout(d time.Duration) Option { return func(m *Mailer) { m.timeout = d } }

// WithHelo sets the name sent in EHLO (default "localhost").
func WithHelo(name string) Option { return func(m *Mailer) { m.helo = name } }

// WithClock sets the clock for the Date header (default time.Now).
func WithClock(now func() time.Time) Option { return func(m *Mailer) { m.now = now } }

// New returns a Mailer that sends through the server at addr
// (host:port) as from.
func New(addr string, from onboard.Address, opts ...Option) (*Mailer, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return nil, fmt.Errorf("smtpmail: server address %q: want host:port", addr)
	}
	if err := checkAddress(from); err != nil {
		return nil, fmt.Errorf("smtpmail: sender: %w", err)
	}
	m := &Mailer{addr: addr, host: host, from: from, timeout: 30 * time.Second, helo: "localhost", now: time.Now}
	for _, o := range opts {
		o(m)
	}
	if m.tlsConfig == nil {
		m.tlsConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	if strings.ContainsFunc(m.helo, func(r rune) bool { return r <= ' ' || r >= 0x7f }) || m.helo == "" {
		return nil, fmt.Errorf("smtpmail: EHLO name %q: %w", m.helo, ErrHeader)
	}
	return m, nil
}

// Send delivers msg to msg.To. It refuses a message whose headers would
// be unsafe (ErrHeader) before connecting.
func (m *Mailer) Send(ctx context.Context, msg onboard.Message) error {
	raw, err := m.build(msg)
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.timeout)
		defer cancel()
	}
	dial := m.dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	conn, err := dial(ctx, "tcp", m.addr)
	if err != nil {
		return fmt.Errorf("smtpmail: connect: %w", err)
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	if err := conn.SetDeadline(dl); err != nil {
		return fmt.Errorf("smtpmail: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	secure := false
	if m.implicit {
		tc := tls.Client(conn, m.tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("smtpmail: TLS: %w", err)
		}
		conn, secure = tc, true
	}
	c, err := smtp.NewClient(conn, m.host)
	if err != nil {
		return fmt.Errorf("smtpmail: greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello(m.helo); err != nil {
		return fmt.Errorf("smtpmail: EHLO: %w", err)
	}
	if !secure {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(m.tlsConfig); err != nil {
				return fmt.Errorf("smtpmail: STARTTLS: %w", err)
			}
			secure = true
		}
	}
	if !secure && !m.plaintext && !isLoopback(conn.RemoteAddr()) {
		return ErrInsecure
	}
	if m.auth != nil {
		if err := c.Auth(m.auth); err != nil {
			return fmt.Errorf("smtpmail: AUTH: %w", err)
		}
	}
	if err := c.Mail(m.from.Email); err != nil {
		return fmt.Errorf("smtpmail: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(msg.To.Email); err != nil {
		return fmt.Errorf("smtpmail: RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtpmail: DATA: %w", err)
	}
	if _, err := w.Write(raw); err != nil {
		return fmt.Errorf("smtpmail: DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtpmail: DATA: %w", err)
	}
	return c.Quit()
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// build writes the message, or refuses it with ErrHeader.
func (m *Mailer) build(msg onboard.Message) ([]byte, error) {
	if err := checkAddress(msg.To); err != nil {
		return nil, fmt.Errorf("smtpmail: recipient: %w", err)
	}
	if err := checkText("subject", msg.Subject); err != nil {
		return nil, err
	}
	lang := msg.Language
	if lang == "" {
		lang = "en"
	}
	if len(lang) > 8 || strings.ContainsFunc(lang, func(r rune) bool { return !('a' <= r && r <= 'z' || r == '-') }) {
		return nil, fmt.Errorf("%w: language %q", ErrHeader, lang)
	}
	if !utf8.ValidString(msg.Text) || strings.ContainsRune(msg.Text, 0) {
		return nil, fmt.Errorf("smtpmail: body is not UTF-8 text: %w", ErrHeader)
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	_, domain, _ := strings.Cut(m.from.Email, "@")
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", address(m.from))
	header("To", address(msg.To))
	header("Subject", mime.QEncoding.Encode("utf-8", msg.Subject))
	header("Date", m.now().Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Content-Language", lang)
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	body := strings.ReplaceAll(strings.ReplaceAll(msg.Text, "\r\n", "\n"), "\r", "\n")
	if _, err := qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// address writes a mailbox; net/mail encodes a non-ASCII name and quotes
// specials.
func address(a onboard.Address) string {
	return (&mail.Address{Name: a.Name, Address: a.Email}).String()
}

func checkAddress(a onboard.Address) error {
	if err := checkText("display name", a.Name); err != nil {
		return err
	}
	if a.Email == "" || strings.ContainsFunc(a.Email, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return fmt.Errorf("%w: address %q", ErrHeader, strings.ToValidUTF8(a.Email, "?"))
	}
	p, err := mail.ParseAddress(a.Email)
	if err != nil || p.Address != a.Email || p.Name != "" {
		return fmt.Errorf("%w: %q is not one plain address", ErrHeader, a.Email)
	}
	return nil
}

// checkText refuses header text that is not UTF-8 or holds a control
// character or a line separator.
func checkText(what, s string) error {
	if !utf8.ValidString(s) || len(s) > 998 {
		return fmt.Errorf("%w: %s", ErrHeader, what)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == '\u0085' {
			return fmt.Errorf("%w: %s holds control character %U", ErrHeader, what, r)
		}
	}
	return nil
}
