package onboard

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/session/signin"
	"golang.org/x/text/unicode/norm"
)

var (
	// ErrInvalidInput is wrapped by every error about a malformed HR
	// record or feed: a missing or over-long field, a control character
	// (CR and LF among them) in a name, an email that is not one address,
	// a bad date or language, a malformed CSV line.
	ErrInvalidInput = errors.New("onboard: invalid input")
	// ErrUnknownPosition is wrapped by a [*PositionError]: the record's
	// position maps to no role.
	ErrUnknownPosition = errors.New("onboard: unknown position")
	// ErrUnknownDepartment is wrapped by a [*DepartmentError]: the
	// record's department is not a declared dept:<id> scope.
	ErrUnknownDepartment = errors.New("onboard: unknown department")
	// ErrIdentityConflict is returned when a record's employee id
	// belongs to a user with another email, or its email to a user with
	// another employee id: accepting it could hand one person's account
	// to another.
	ErrIdentityConflict = errors.New("onboard: employee id and email belong to different people")
	// ErrConflict is rbac.ErrConflict: the roles of the position would
	// give someone both sides of a segregation-of-duties rule. The error
	// is an *rbac.ConflictError naming the rule.
	ErrConflict = rbac.ErrConflict
	// ErrNotFound is returned by Offboard for an employee id no user has.
	ErrNotFound = errors.New("onboard: no such employee")
	// ErrMail is wrapped when the change was made but the welcome message
	// could not be sent.
	ErrMail = errors.New("onboard: welcome message not sent")
)

// Record is one employee as the HR system (HRIS) knows them: the input of
// onboarding. Feed it the same record again and nothing changes; change
// its position or department and the employee is moved.
type Record struct {
	// EmployeeID is the HR system's id: 1-64 of A-Z a-z 0-9 - _ . ,
	// starting with a letter or digit. It identifies the person.
	EmployeeID string
	GivenName  string
	FamilyName string
	// Email is the work address, the sign-in name.
	Email string
	// Position is the position title as HR writes it, in English or
	// French ("Bylaw Officer", "Agente d'application des règlements"),
	// or a role id; [Positions] maps it to roles.
	Position string
	// Department is the department id: the employee's roles are granted
	// at the scope dept:<Department>, which must be declared in the
	// policy's scope tree.
	Department string
	// Manager is the manager's employee id; optional.
	Manager string
	// StartDate is the first working day; the roles start then. The zero
	// time means "now".
	StartDate time.Time
	// Language is "en" or "fr"; empty means "en". Welcome messages are
	// written in it.
	Language string
}

// DisplayName is "GivenName FamilyName".
func (r Record) DisplayName() string {
	return strings.TrimSpace(r.GivenName + " " + r.FamilyName)
}

// RecordError reports a bad field of a record. Line is the CSV line (0
// when the record did not come from a file). errors.Is(err,
// ErrInvalidInput) reports true for it.
type RecordError struct {
	Line       int
	EmployeeID string
	Field      string
	Reason     string
}

// Error implements the error interface.
func (e *RecordError) Error() string {
	var b strings.Builder
	b.WriteString("onboard: ")
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.EmployeeID != "" {
		fmt.Fprintf(&b, "employee %q: ", e.EmployeeID)
	}
	fmt.Fprintf(&b, "%s: %s", e.Field, e.Reason)
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidInput) true.
func (e *RecordError) Is(target error) bool { return target == ErrInvalidInput }

// PositionError names a position that maps to no role. errors.Is(err,
// ErrUnknownPosition) reports true for it.
type PositionError struct {
	Line     int
	Position string
}

// Error implements the error interface.
func (e *PositionError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("onboard: line %d: unknown position %q: map it to a role first", e.Line, e.Position)
	}
	return fmt.Sprintf("onboard: unknown position %q: map it to a role first", e.Position)
}

// Is makes errors.Is(err, ErrUnknownPosition) true.
func (e *PositionError) Is(target error) bool { return target == ErrUnknownPosition }

// DepartmentError names a department the policy does not declare.
// errors.Is(err, ErrUnknownDepartment) reports true for it.
type DepartmentError struct {
	Line       int
	Department string
}

// Error implements the error interface.
func (e *DepartmentError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("onboard: line %d: unknown department %q: declare the scope dept:%s first", e.Line, e.Department, e.Department)
	}
	return fmt.Sprintf("onboard: unknown department %q: declare the scope dept:%s first", e.Department, e.Department)
}

// Is makes errors.Is(err, ErrUnknownDepartment) true.
func (e *DepartmentError) Is(target error) bool { return target == ErrUnknownDepartment }

// Limits on the fields of a record, in bytes.
const (
	MaxEmployeeID = 64
	MaxName       = 100
	MaxPosition   = 200
	MaxEmail      = 254
)

// Normalize returns r with its text in Unicode NFC, surrounding space
// trimmed, the email lower-cased and the language defaulted, or a
// [*RecordError] naming the first bad field. Names may hold letters,
// marks, digits, spaces and the punctuation of names (' - . ,), never a
// control character, a line or paragraph separator, or a bidirectional
// override: those could split a mail header or disguise a name.
func (r Record) Normalize() (Record, error) {
	bad := func(field, why string) (Record, error) {
		return Record{}, &RecordError{EmployeeID: safeID(r.EmployeeID), Field: field, Reason: why}
	}
	if why := checkEmployeeID(r.EmployeeID); why != "" {
		return bad("employee id", why)
	}
	r.EmployeeID = strings.TrimSpace(r.EmployeeID)
	var why string
	if r.GivenName, why = cleanName(r.GivenName, true); why != "" {
		return bad("given name", why)
	}
	if r.FamilyName, why = cleanName(r.FamilyName, true); why != "" {
		return bad("family name", why)
	}
	email := strings.ToLower(strings.TrimSpace(r.Email))
	if !utf8.ValidString(email) || len(email) > MaxEmail || strings.ContainsFunc(email, func(c rune) bool { return c < 0x21 || c == 0x7f || c > 0x7e }) {
		return bad("email", "must be one plain ASCII address")
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || a.Name != "" {
		return bad("email", "must be one plain address (name@example.org)")
	}
	r.Email = email
	if r.Position, why = cleanText(r.Position, MaxPosition, true); why != "" {
		return bad("position", why)
	}
	r.Department = strings.TrimSpace(r.Department)
	if r.Department == "" {
		return bad("department", "empty")
	}
	if err := rbac.Scope("dept:" + r.Department).Validate(); err != nil {
		return bad("department", "must be a department id (a-z, 0-9, _ - .)")
	}
	if r.Manager = strings.TrimSpace(r.Manager); r.Manager != "" {
		if why := checkEmployeeID(r.Manager); why != "" {
			return bad("manager", why)
		}
		if r.Manager == r.EmployeeID {
			return bad("manager", "an employee cannot manage themselves")
		}
	}
	switch r.Language = strings.ToLower(strings.TrimSpace(r.Language)); r.Language {
	case "":
		r.Language = signin.LanguageEnglish
	case signin.LanguageEnglish, signin.LanguageFrench:
	default:
		return bad("language", "must be en or fr")
	}
	if !r.StartDate.IsZero() {
		y, m, d := r.StartDate.Date()
		r.StartDate = time.Date(y, m, d, 0, 0, 0, 0, r.StartDate.Location())
	}
	return r, nil
}

// safeID returns id if it is a well-formed employee id, else "" (so that
// error messages never repeat hostile text).
func safeID(id string) string {
	if checkEmployeeID(id) == "" {
		return strings.TrimSpace(id)
	}
	return ""
}

func checkEmployeeID(id string) string {
	id = strings.TrimSpace(id)
	switch {
	case id == "":
		return "empty"
	case len(id) > MaxEmployeeID:
		return fmt.Sprintf("longer than %d bytes", MaxEmployeeID)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '-' || c == '_' || c == '.') && i > 0:
		default:
			return "use A-Z, a-z, 0-9, - _ . (starting with a letter or digit)"
		}
	}
	return ""
}

// cleanName checks a personal name: letters, marks, digits, spaces and ' - . ,
func cleanName(s string, required bool) (string, string) {
	s, why := cleanText(s, MaxName, required)
	if why != "" {
		return "", why
	}
	for _, c := range s {
		if unicode.IsLetter(c) || unicode.IsMark(c) || unicode.IsDigit(c) || c == ' ' {
			continue
		}
		switch c {
		case '\'', '-', '.', ',', '\u2019':
			continue
		}
		return "", fmt.Sprintf("character %U is not allowed in a name", c)
	}
	return s, ""
}

// cleanText trims, normalises to NFC and refuses control and format
// characters, line separators and bidirectional controls.
func cleanText(s string, max int, required bool) (string, string) {
	if !utf8.ValidString(s) {
		return "", "not UTF-8"
	}
	for _, c := range s {
		if unicode.IsControl(c) || unicode.Is(unicode.Cf, c) || c == '\u2028' || c == '\u2029' {
			return "", fmt.Sprintf("control or invisible character %U", c)
		}
	}
	s = norm.NFC.String(strings.TrimSpace(s))
	s = strings.Join(strings.Fields(s), " ")
	switch {
	case s == "" && required:
		return "", "empty"
	case len(s) > max:
		return "", fmt.Sprintf("longer than %d bytes", max)
	}
	return s, ""
}

// UserID returns the user id onboarding gives the employee: the employee
// id in lower case. Two employee ids that differ only in case therefore
// cannot both be onboarded; the second is an [ErrIdentityConflict].
func UserID(employeeID string) string { return strings.ToLower(strings.TrimSpace(employeeID)) }
