package masking

import (
	"errors"
)

var (
	// ErrInvalidTag is wrapped by every [TagError]: a struct tag that names a
	// malformed permission, an unknown mask, or a mask that cannot apply to
	// the field's type.
	ErrInvalidTag = errors.New("masking: invalid struct tag")

	// ErrInvalidSIN is wrapped by every [SINError]. Its message, like every
	// message in this package, never contains the rejected input.
	ErrInvalidSIN = errors.New("masking: invalid SIN")

	// ErrInvalidValue is wrapped by every [ValueError]: a value that cannot
	// be masked, such as a nil or non-pointer argument to [Engine.Mask].
	ErrInvalidValue = errors.New("masking: invalid value")

	// ErrInvalidOptions is returned by [New] for a custom masker with an
	// invalid or reserved name, or a nil [Masker].
	ErrInvalidOptions = errors.New("masking: invalid options")
)

// TagError reports a struct tag that cannot be turned into a masking rule.
// It is returned when the plan for a type is built, so the first
// [Engine.Mask] on a badly tagged type fails, every time, before touching
// any field. errors.Is(err, ErrInvalidTag) reports true for it.
type TagError struct {
	Type   string // the struct type, "crm.Citizen"
	Field  string // the Go field name, "SIN"
	Tag    string // the whole struct tag, `iam:"crm.citizen" mask:"sin"`
	Reason string // `unknown mask "ssn"`, ...
}

// Error implements the error interface.
func (e *TagError) Error() string {
	return "masking: " + e.Type + "." + e.Field + ": invalid tag `" + e.Tag + "`: " + e.Reason
}

// Is makes errors.Is(err, ErrInvalidTag) true.
func (e *TagError) Is(target error) bool { return target == ErrInvalidTag }

// SINError reports why a string is not a valid Social Insurance Number.
// It never holds the input. errors.Is(err, ErrInvalidSIN) reports true for it.
type SINError struct {
	Reason string // "want nine digits, ...", "check digit does not match", ...
}

// Error implements the error interface.
func (e *SINError) Error() string { return "masking: invalid SIN: " + e.Reason }

// Is makes errors.Is(err, ErrInvalidSIN) true.
func (e *SINError) Is(target error) bool { return target == ErrInvalidSIN }

// ValueError reports a value the [Engine] cannot work on.
// errors.Is(err, ErrInvalidValue) reports true for it.
type ValueError struct {
	Method string // "Mask", "MaskCopy", ...
	Type   string // the dynamic type passed, "<nil>" for a nil interface
	Reason string // "needs a non-nil pointer"
}

// Error implements the error interface.
func (e *ValueError) Error() string {
	return "masking: Engine." + e.Method + ": " + e.Reason + ", got " + e.Type
}

// Is makes errors.Is(err, ErrInvalidValue) true.
func (e *ValueError) Is(target error) bool { return target == ErrInvalidValue }
