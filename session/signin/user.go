package signin

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Status is a user's standing.
type Status string

// The user statuses. Only an active user can sign in.
const (
	StatusActive     Status = "active"
	StatusSuspended  Status = "suspended"
	StatusOffboarded Status = "offboarded"
)

// The languages a user can prefer.
const (
	LanguageEnglish = "en"
	LanguageFrench  = "fr"
)

// User is a staff member's identity record: what sign-in, onboarding and
// SSO need. It holds no credential.
type User struct {
	// ID is the stable id: lower-case letters, digits, _ - . @ (the id
	// part of the rbac subject "user:<id>"), at most 100 bytes.
	ID string
	// EmployeeID is the HR system's id; unique when set.
	EmployeeID string
	// Email is the sign-in name; unique, stored lower-case.
	Email       string
	DisplayName string
	// Language is "en" or "fr"; empty means "en".
	Language   string
	Department string
	// Status; empty means active.
	Status Status
	// Created is set by the store on creation.
	Created time.Time
}

// Subject returns the rbac subject of u: "user:<id>".
func (u User) Subject() string { return "user:" + u.ID }

// normalizeEmail lower-cases and trims an email; it does not validate.
func normalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// maxField bounds every text field of a User.
const maxField = 254

// Normalize returns u with defaults filled in and the email lower-cased,
// or an error wrapping ErrInvalidInput naming the bad field.
func (u User) Normalize() (User, error) {
	u.Email = normalizeEmail(u.Email)
	if u.Language == "" {
		u.Language = LanguageEnglish
	}
	if u.Status == "" {
		u.Status = StatusActive
	}
	if why := validID(u.ID); why != "" {
		return u, fmt.Errorf("%w: user id: %s", ErrInvalidInput, why)
	}
	if a, err := mail.ParseAddress(u.Email); err != nil || a.Address != u.Email || len(u.Email) > maxField {
		return u, fmt.Errorf("%w: email is not an address", ErrInvalidInput)
	}
	switch u.Language {
	case LanguageEnglish, LanguageFrench:
	default:
		return u, fmt.Errorf("%w: language must be en or fr", ErrInvalidInput)
	}
	switch u.Status {
	case StatusActive, StatusSuspended, StatusOffboarded:
	default:
		return u, fmt.Errorf("%w: status must be active, suspended or offboarded", ErrInvalidInput)
	}
	for name, v := range map[string]string{"employee id": u.EmployeeID, "display name": u.DisplayName, "department": u.Department} {
		if len(v) > maxField || !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			return u, fmt.Errorf("%w: %s", ErrInvalidInput, name)
		}
	}
	return u, nil
}

func validID(s string) string {
	if s == "" {
		return "empty"
	}
	if len(s) > 100 {
		return "longer than 100 bytes"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '_' || c == '-' || c == '.' || c == '@') && i > 0:
		default:
			return "use a-z, 0-9, _ - . @"
		}
	}
	return ""
}
