package smtpmail_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/adapters/smtpmail"
	"github.com/civic-platform/security/adapters/smtpmail/smtptest"
	"github.com/civic-platform/security/session/onboard"
)

func startServer(t *testing.T) *smtptest.Server {
	t.Helper()
	srv, err := smtptest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

var from = onboard.Address{Name: "Ville de Lakeview — TI", Email: "it@lakeview.ca"}

// parsed reads a received message back the way a mail client would.
func parsed(t *testing.T, raw []byte) (*mail.Message, string, string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("ReadMessage: %v\n%s", err, raw)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	return msg, subject, string(body)
}

func TestSendThroughARealServer(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	m, err := smtpmail.New(srv.Addr(), from)
	if err != nil {
		t.Fatal(err)
	}
	text := "Bonjour Zoë,\n\n.\nUne ligne qui commence par un point ne termine pas le message.\n" + strings.Repeat("très longue ligne ", 40) + "\nFin.\n"
	err = m.Send(context.Background(), onboard.Message{
		To:      onboard.Address{Name: "Zoë O'Brien-Lévesque", Email: "zoe.obrien@lakeview.ca"},
		Subject: "Bienvenue à la Ville : activez votre compte", Text: text, Language: "fr"})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := srv.Wait(1, 5*time.Second)
	if len(got) != 1 || got[0].From != "it@lakeview.ca" || len(got[0].To) != 1 || got[0].To[0] != "zoe.obrien@lakeview.ca" {
		t.Fatalf("received = %+v", got)
	}
	msg, subject, body := parsed(t, got[0].Data)
	to, err := msg.Header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != "Zoë O'Brien-Lévesque" || to[0].Address != "zoe.obrien@lakeview.ca" {
		t.Fatalf("To = %v, %v", to, err)
	}
	if subject != "Bienvenue à la Ville : activez votre compte" || msg.Header.Get("Content-Language") != "fr" {
		t.Fatalf("subject %q, headers %v", subject, msg.Header)
	}
	if strings.ReplaceAll(body, "\r\n", "\n") != text {
		t.Fatalf("body = %q", body)
	}
	for _, line := range strings.Split(string(got[0].Data), "\r\n") {
		if len(line) > 78 {
			t.Fatalf("line longer than 78: %q", line)
		}
	}
}

func TestHeaderInjectionIsImpossible(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	m, err := smtpmail.New(srv.Addr(), from)
	if err != nil {
		t.Fatal(err)
	}
	ok := onboard.Message{To: onboard.Address{Name: "Lee Roy", Email: "lee@lakeview.ca"}, Subject: "Welcome", Text: "hi"}
	tests := map[string]func(*onboard.Message){
		"CRLF in name":          func(m *onboard.Message) { m.To.Name = "Lee\r\nBcc: all@lakeview.ca" },
		"LF in name":            func(m *onboard.Message) { m.To.Name = "Lee\nBcc: all@lakeview.ca" },
		"CR in name":            func(m *onboard.Message) { m.To.Name = "Lee\rBcc: all@lakeview.ca" },
		"NEL in name":           func(m *onboard.Message) { m.To.Name = "Lee\u0085Bcc: all@lakeview.ca" },
		"line separator":        func(m *onboard.Message) { m.To.Name = "Lee\u2028Bcc: all@lakeview.ca" },
		"CRLF in subject":       func(m *onboard.Message) { m.Subject = "Welcome\r\nBcc: all@lakeview.ca" },
		"CRLF in address":       func(m *onboard.Message) { m.To.Email = "lee@lakeview.ca\r\nRCPT TO:<all@lakeview.ca>" },
		"two addresses":         func(m *onboard.Message) { m.To.Email = "lee@lakeview.ca,all@lakeview.ca" },
		"named address":         func(m *onboard.Message) { m.To.Email = "Lee <lee@lakeview.ca>" },
		"angle bracket address": func(m *onboard.Message) { m.To.Email = "lee@lakeview.ca>" },
		"empty address":         func(m *onboard.Message) { m.To.Email = "" },
		"NUL in body":           func(m *onboard.Message) { m.Text = "a\x00b" },
		"hostile language":      func(m *onboard.Message) { m.Language = "fr\r\nBcc: x" },
	}
	for name, edit := range tests {
		msg := ok
		edit(&msg)
		if err := m.Send(context.Background(), msg); !errors.Is(err, smtpmail.ErrHeader) {
			t.Errorf("%s: err = %v, want ErrHeader", name, err)
		}
	}
	if got := srv.Messages(); len(got) != 0 {
		t.Fatalf("the server received %d messages", len(got))
	}
	// A name with quotes, commas and angle brackets is one quoted name,
	// never a second address.
	msg := ok
	msg.To.Name = `Roy, Lee "The <Boss>" <all@lakeview.ca>`
	if err := m.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	got := srv.Wait(1, 5*time.Second)
	if len(got) != 1 || len(got[0].To) != 1 {
		t.Fatalf("received %+v", got)
	}
	hdr, _, _ := parsed(t, got[0].Data)
	to, err := hdr.Header.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Address != "lee@lakeview.ca" || to[0].Name != msg.To.Name {
		t.Fatalf("To = %v, %v", to, err)
	}
	if hdr.Header.Get("Bcc") != "" {
		t.Fatal("a Bcc header appeared")
	}
}

func TestSendErrors(t *testing.T) {
	t.Parallel()
	if _, err := smtpmail.New("no-port", from); err == nil {
		t.Error("New accepted an address without a port")
	}
	if _, err := smtpmail.New("127.0.0.1:25", onboard.Address{Name: "x\r\ny", Email: "it@lakeview.ca"}); !errors.Is(err, smtpmail.ErrHeader) {
		t.Errorf("New accepted a hostile sender: %v", err)
	}
	// Nothing listens: a clear error, within the context's deadline.
	srv := startServer(t)
	addr := srv.Addr()
	srv.Close()
	m, err := smtpmail.New(addr, from, smtpmail.WithTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = m.Send(context.Background(), onboard.Message{To: onboard.Address{Email: "a@b.ca"}, Subject: "s", Text: "t"})
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("Send to a closed server = %v after %v", err, time.Since(start))
	}
}
