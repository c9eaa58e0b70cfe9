package smtpmail_test

import (
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"time"

	"github.com/civic-platform/security/adapters/smtpmail"
	"github.com/civic-platform/security/adapters/smtpmail/smtptest"
	"github.com/civic-platform/security/session/onboard"
)

func ExampleMailer_Send() {
	// A real SMTP server on a loopback port, as in a test.
	srv, err := smtptest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	m, err := smtpmail.New(srv.Addr(), onboard.Address{Name: "Lakeview IT", Email: "it@lakeview.ca"})
	if err != nil {
		fmt.Println(err)
		return
	}
	err = m.Send(context.Background(), onboard.Message{
		To:      onboard.Address{Name: "Julie Tremblay", Email: "julie.tremblay@lakeview.ca"},
		Subject: "Welcome", Text: "Hello Julie,\n", Language: "en"})
	if err != nil {
		fmt.Println(err)
		return
	}
	// A name that tries to add a header is refused before connecting.
	err = m.Send(context.Background(), onboard.Message{
		To:      onboard.Address{Name: "Julie\r\nBcc: everyone@lakeview.ca", Email: "julie.tremblay@lakeview.ca"},
		Subject: "Welcome", Text: "Hello\n"})
	fmt.Println(err)

	got := srv.Wait(1, 5*time.Second)
	msg, err := mail.ReadMessage(bytes.NewReader(got[0].Data))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(got), "message to", msg.Header.Get("To"))
	// Output:
	// smtpmail: recipient: smtpmail: unsafe header value: display name holds control character U+000D
	// 1 message to "Julie Tremblay" <julie.tremblay@lakeview.ca>
}
