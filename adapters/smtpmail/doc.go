// Package smtpmail sends onboarding's welcome messages over SMTP: an
// implementation of onboard.Mailer.
//
// It uses the standard library's net/smtp client. A welcome message is
// one plain-text part to one recipient; net/smtp gives what that needs
// (EHLO, STARTTLS, AUTH PLAIN, dot-stuffing, and refusal of CR or LF in
// the envelope addresses) without adding a module, and every header is
// written by this package, so none depends on a library's escaping. A
// full mail library (wneessen/go-mail) would earn its place for
// attachments, HTML alternatives or DKIM signing, which onboarding does
// not send.
//
// # Headers cannot be injected
//
// Every header value is checked before anything is sent: a display name,
// address or subject holding CR, LF, NUL or another control character is
// refused with [ErrHeader] and nothing reaches the server. Display names
// and subjects that are not plain ASCII are written as RFC 2047 encoded
// words; addresses must be plain ASCII addresses (net/mail's parser
// accepts them unchanged). The body is quoted-printable, so no line of
// it can end the message early or exceed SMTP's line limit.
//
// # Transport security
//
// The Mailer uses STARTTLS whenever the server offers it, and by default
// refuses to send a message (or a password) over a connection that is not
// encrypted unless the server is on a loopback address; the option
// [InsecureAllowPlaintext] lifts that for a relay on a trusted network.
// [WithImplicitTLS] connects with TLS from the start (port 465).
//
// A Mailer is safe for concurrent use; each Send uses its own connection.
package smtpmail
