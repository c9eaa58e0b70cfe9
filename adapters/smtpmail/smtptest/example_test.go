package smtptest_test

import (
	"fmt"
	"net/smtp"
	"time"

	"github.com/civic-platform/security/adapters/smtpmail/smtptest"
)

func ExampleServer() {
	srv, err := smtptest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	msg := []byte("Subject: hi\r\n\r\nhello\r\n")
	if err := smtp.SendMail(srv.Addr(), nil, "it@lakeview.ca", []string{"julie@lakeview.ca"}, msg); err != nil {
		fmt.Println(err)
		return
	}
	got := srv.Wait(1, 5*time.Second)
	fmt.Println(got[0].From, got[0].To)
	// Output: it@lakeview.ca [julie@lakeview.ca]
}
