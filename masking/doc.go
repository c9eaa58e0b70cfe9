// Package masking is the field-masking layer of the authorization library:
// it hides the fields of a record that the caller may not see, before the
// record is logged, encoded or returned.
//
// It owns the field rules, read from struct tags; the masks; the reflection
// plans that apply them; and masked value types such as [SIN], which cannot
// be printed, logged or encoded with its digits. It does not decide who may
// see what: the caller passes a predicate, usually a closure over an iam
// decision, that says whether it holds a permission. Nor does it record
// access to personal information: it reports each unmasked PII field to a
// callback, and the caller writes the audit record.
//
// # Tags
//
//	type Citizen struct {
//		ID       string      `iam:"key"`
//		Name     string
//		SIN      masking.SIN `iam:"crm.citizen.sin.view" mask:"sin"`
//		Email    string      `iam:"crm.citizen.email.view" mask:"email"`
//		Phone    *string     `iam:"crm.citizen.phone.view" mask:"phone" pii:"false"`
//		Notes    string      `mask:"redact"`
//		Contacts []Contact
//	}
//
// iam names the permission that unmasks the field: three or four
// dot-separated segments of [a-z0-9_], "module.entity.action" or
// "module.entity.field.action". The special value iam:"key" marks the
// record key instead: its value (a string, an integer or a fmt.Stringer) is
// reported as [View.Key] for every field of the record and of the records
// nested in it that have no key of their own.
//
// mask names the mask: one of the built-in masks below or a custom [Masker]
// given in [Options.Maskers]. A field with iam but no mask is redacted; a
// field with mask but no iam is masked for everyone.
//
// pii:"false" marks a masked field that is not personal information, so
// reading it unmasked is not reported to the viewed callback. Masked fields
// are PII by default.
//
// Masks apply to string fields (any type whose kind is string), *string,
// [SIN], *SIN, and element-wise to slices, arrays and map values of these.
// The "redact" mask also applies to any other type, which it sets to its
// zero value; other masks on other types are a [*TagError]. A SIN field
// takes only "sin" or "redact", both of which set it to the zero SIN, so
// [SIN.Plain] returns "" afterwards. An untagged SIN field is left alone:
// it still prints and encodes as the mask, but its Plain digits stay.
//
// A malformed tag, a tag on an unexported field, or an embedded pointer to
// an unexported struct type that holds masked fields (which a copy could not
// replace) is a [*TagError] wrapping [ErrInvalidTag], returned by the first
// call that builds the type's plan; [Engine.Prepare] builds it up front.
// Untagged unexported fields are skipped, and what they hold is not masked;
// the exported fields of an embedded unexported struct are masked, as
// encoding/json sees them.
//
// # Masks
//
//	sin     "***-***-***", whatever is stored, even "" or garbage
//	email   "jane.doe@example.ca" → "j***@example.ca"; no "@" → "***"
//	phone   "+1 (613) 555-1234" → "***-***-1234" (last four ASCII digits)
//	dob     "****-**-**", whatever is stored: not even the year is shown
//	postal  "k1a 0b1" → "K1A ***"; not a Canadian postal code → "*** ***"
//	redact  "[REDACTED]" for strings; the zero value for other types
//
// email, phone and postal leave an empty string empty: there is nothing
// to hide. sin, dob and redact always write their constant, which does not
// allocate.
//
// # Concurrency
//
// An [Engine] is safe for concurrent use and is meant to be shared: it
// builds each type's plan once, under a lock, and reads it without one
// afterwards. Masking a value changes that value, so one value must not be
// masked by two goroutines at once, nor read while it is being masked;
// [Engine.MaskCopy], [Copy] and [Engine.Marshal] leave their argument
// untouched. Custom maskers and the may and viewed callbacks are called on
// the calling goroutine. The package has no global state.
package masking
