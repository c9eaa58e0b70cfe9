package abac

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidRule is wrapped by every error that reports rule text that
	// could not be parsed (see [ParseError]).
	ErrInvalidRule = errors.New("abac: invalid rule")

	// ErrUnknownField is wrapped by errors that report a field with no column
	// in the caller's allow-list (see [FieldError]). A filter that names such
	// a field is never rendered as a wider query.
	ErrUnknownField = errors.New("abac: unknown field")

	// ErrInvalidFilter is wrapped by errors that report a hand-built [Cond]
	// that is malformed: an unknown operator, the wrong number of values, or
	// a value that is neither a string nor an integer.
	ErrInvalidFilter = errors.New("abac: invalid filter")
)

// ParseError says where and why rule text was rejected.
// errors.Is(err, ErrInvalidRule) reports true for it.
type ParseError struct {
	Offset int    // byte offset in the rule text, 0-based
	Reason string // "unterminated string literal", ...
}

// Error implements error.
func (e *ParseError) Error() string {
	return fmt.Sprintf("abac: invalid rule at offset %d: %s", e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidRule) true.
func (e *ParseError) Is(target error) bool { return target == ErrInvalidRule }

// FieldError names a field that has no column in the allow-list given to
// [Filter.SQL]. errors.Is(err, ErrUnknownField) reports true for it.
type FieldError struct {
	Field string
}

// Error implements error.
func (e *FieldError) Error() string {
	return fmt.Sprintf("abac: field %q has no column in the allow-list", e.Field)
}

// Is makes errors.Is(err, ErrUnknownField) true.
func (e *FieldError) Is(target error) bool { return target == ErrUnknownField }
