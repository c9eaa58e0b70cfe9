package onboard

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Address is a mailbox: a display name and an address.
type Address struct {
	Name  string
	Email string
}

// Message is a plain-text email. Onboarding builds it from validated
// fields only; a [Mailer] must still refuse a header value holding CR or
// LF, so that no caller can add a header through it.
type Message struct {
	To      Address
	Subject string
	// Text is the body, UTF-8, lines separated by "\n".
	Text string
	// Language is the message's language ("en", "fr"), for the
	// Content-Language header.
	Language string
}

// Mailer sends messages. adapters/smtpmail sends them over SMTP. Send is
// called after the change it announces has been made; it may be called
// concurrently.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// MailerFunc adapts a function to a [Mailer].
type MailerFunc func(ctx context.Context, m Message) error

// Send calls f(ctx, m).
func (f MailerFunc) Send(ctx context.Context, m Message) error { return f(ctx, m) }

// welcome holds what a welcome message needs.
type welcome struct {
	org        string
	name       string
	email      string
	position   string
	department string
	start      time.Time
	sso        string // SSO sign-in URL; empty when local sign-in is used
	link       string // one-time activation link (local sign-in)
	linkTTL    time.Duration
}

var (
	monthsFR = []string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}
)

func (w welcome) date(lang string) string {
	if w.start.IsZero() {
		if lang == "fr" {
			return "dès maintenant"
		}
		return "now"
	}
	if lang == "fr" {
		return fmt.Sprintf("le %d %s %d", w.start.Day(), monthsFR[w.start.Month()-1], w.start.Year())
	}
	return w.start.Format("Monday, January 2, 2006")
}

// message writes the welcome message in lang ("en" or "fr").
func (w welcome) message(lang string) Message {
	var b strings.Builder
	var subject string
	hours := int(w.linkTTL.Hours())
	if lang == "fr" {
		subject = "Bienvenue à " + w.org + " : activez votre compte"
		fmt.Fprintf(&b, "Bonjour %s,\n\n", w.name)
		fmt.Fprintf(&b, "Bienvenue à %s. Votre compte est prêt : %s, %s (service %s), à compter %s.\n\n", w.org, w.email, w.position, w.department, w.date(lang))
		if w.sso != "" {
			fmt.Fprintf(&b, "Pour vous connecter, ouvrez %s et choisissez « Se connecter avec le compte de l'organisation ». Utilisez votre adresse %s et le mot de passe de votre compte réseau ; aucun autre mot de passe n'est nécessaire.\n\n", w.sso, w.email)
		}
		if w.link != "" {
			fmt.Fprintf(&b, "Pour activer votre compte, choisissez votre mot de passe avec ce lien à usage unique, valable %d heures :\n\n%s\n\n", hours, w.link)
			b.WriteString("Ce lien ne fonctionne qu'une fois. Ne le transmettez à personne.\n\n")
		}
		b.WriteString("Si vous n'attendiez pas ce message, signalez-le au service des TI.\n")
	} else {
		subject = "Welcome to " + w.org + ": activate your account"
		fmt.Fprintf(&b, "Hello %s,\n\n", w.name)
		fmt.Fprintf(&b, "Welcome to %s. Your account is ready: %s, %s (department %s), starting %s.\n\n", w.org, w.email, w.position, w.department, w.date(lang))
		if w.sso != "" {
			fmt.Fprintf(&b, "To sign in, open %s and choose \"Sign in with your organisation account\". Use your address %s and your network password; you need no other password.\n\n", w.sso, w.email)
		}
		if w.link != "" {
			fmt.Fprintf(&b, "To activate your account, choose your password with this one-time link, valid for %d hours:\n\n%s\n\n", hours, w.link)
			b.WriteString("The link works once. Do not share it.\n\n")
		}
		b.WriteString("If you did not expect this message, tell the IT service desk.\n")
	}
	return Message{To: Address{Name: w.name, Email: w.email}, Subject: subject, Text: b.String(), Language: lang}
}

// checkURL accepts an absolute http(s) URL without user information.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		strings.ContainsFunc(raw, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return fmt.Errorf("%w: %q is not an absolute http(s) URL", ErrInvalidInput, raw)
	}
	return nil
}
