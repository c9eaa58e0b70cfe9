package smtptest

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Received is one message as the server received it.
type Received struct {
	From string
	To   []string
	// TLS reports whether the message came over a TLS connection.
	TLS bool
	// Data is the message as sent after DATA (headers and body, CRLF line
	// ends, dot-stuffing removed).
	Data []byte
}

// Server is an SMTP server on 127.0.0.1 that accepts every message of up
// to 1 MiB. Close stops it. It is safe for concurrent use.
type Server struct {
	srv  *smtp.Server
	ln   net.Listener
	done chan struct{}

	once     sync.Once
	closeErr error

	mu   sync.Mutex
	msgs []Received
	got  chan struct{}
}

// Start starts a Server on a free loopback port.
func Start() (*Server, error) { return start(nil) }

// StartTLS starts a Server that offers STARTTLS with cfg.
func StartTLS(cfg *tls.Config) (*Server, error) { return start(cfg) }

// StartImplicitTLS starts a Server that speaks TLS from the first byte
// (SMTPS, as on port 465) with cfg.
func StartImplicitTLS(cfg *tls.Config) (*Server, error) {
	if cfg == nil {
		return nil, errors.New("smtptest: implicit TLS needs a TLS configuration")
	}
	return listen(cfg, nil)
}

func start(cfg *tls.Config) (*Server, error) { return listen(nil, cfg) }

// listen starts a Server; implicit wraps the listener in TLS, starttls is
// offered as STARTTLS.
func listen(implicit, starttls *tls.Config) (*Server, error) {
	cfg := starttls
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if implicit != nil {
		ln = tls.NewListener(ln, implicit)
	}
	s := &Server{ln: ln, done: make(chan struct{}), got: make(chan struct{}, 1)}
	s.srv = smtp.NewServer(backend{s})
	s.srv.Domain = "localhost"
	s.srv.TLSConfig = cfg
	s.srv.MaxMessageBytes = 1 << 20
	s.srv.MaxRecipients = 10
	s.srv.ReadTimeout = 10 * time.Second
	s.srv.WriteTimeout = 10 * time.Second
	go func() {
		defer close(s.done)
		s.srv.Serve(ln) // returns when Close closes the listener
	}()
	return s, nil
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server and waits for it.
func (s *Server) Close() error {
	s.once.Do(func() {
		// Close the listener too: Serve may not have registered it yet.
		s.ln.Close()
		if err := s.srv.Close(); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			s.closeErr = err
		}
		<-s.done
	})
	return s.closeErr
}

// Messages returns the messages received so far.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

// Wait waits up to d for at least n messages and returns what has
// arrived.
func (s *Server) Wait(n int, d time.Duration) []Received {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		select {
		case <-s.got:
		case <-deadline.C:
			return s.Messages()
		}
	}
}

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) { return &sess{s: b.s, conn: c}, nil }

type sess struct {
	s    *Server
	conn *smtp.Conn
	from string
	to   []string
}

func (x *sess) Reset()        { x.from, x.to = "", nil }
func (x *sess) Logout() error { return nil }

func (x *sess) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}

func (x *sess) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}

func (x *sess) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	_, secure := x.conn.TLSConnectionState()
	x.s.msgs = append(x.s.msgs, Received{From: x.from, To: append([]string(nil), x.to...), TLS: secure, Data: data})
	x.s.mu.Unlock()
	select {
	case x.s.got <- struct{}{}:
	default:
	}
	return nil
}
