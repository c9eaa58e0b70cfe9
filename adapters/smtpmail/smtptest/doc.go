// Package smtptest runs a real SMTP server (emersion/go-smtp) on a
// loopback port inside a test or an example, and keeps every message it
// receives, so a test can read the welcome message a Mailer sent.
package smtptest
