package smtpmail

import (
	"context"
	"net"
)

// SetDial replaces how m connects (tests only).
func SetDial(m *Mailer, dial func(ctx context.Context, network, addr string) (net.Conn, error)) {
	m.dial = dial
}
