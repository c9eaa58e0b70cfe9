// Package masking is the field-masking layer of the authorization library:
// it hides the fields of a record that the caller may not see, before the
// record is logged, encoded or returned.
//
// It owns the field rules, read from struct tags; the masks; the reflection
// plans that apply them; and masked value types such as [SIN], which cannot
// be printed, logged or encoded with its digits, and [SINColumn], its
// storage form. It does not decide who may
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
// # SIN
//
// A [SIN] renders as [SINMask] through every fmt verb and flag (invalid
// verbs, %p and %x included), slog, encoding/json, encoding/xml and
// encoding/gob, inside structs, slices, maps and interfaces. Its digits are
// held sealed under a key made at process start, so even the raw dump fmt
// makes of a SIN in an unexported field, where it cannot call the SIN's
// methods, shows no digits. [SIN.Plain] is the one disclosure in code.
//
// The one encoding that writes the digits is the JSON of [Engine.Marshal]
// and [Engine.Encode] (and iam's Masker built on them): a tagged SIN field
// that the caller may see is written as "046454286" in the response, so an
// authorized viewer gets the real value. The Engine marks the SINs of its
// own private copy for this; no exported API can, and json.Marshal of any
// other SIN writes the mask.
//
// A SIN is not a database/sql/driver.Valuer, because SQL loggers call
// Value to print a query's arguments: passing a SIN to a query fails. Store
// it as a [SINColumn], whose Value gives the digits to the driver, and keep
// the SQL logger from printing arguments (gorm: logger.Config with
// ParameterizedQueries set, or a silent logger); with gorm's defaults, a
// slow or failing statement would be logged with the digits.
//
// # Records
//
// [Engine.MaskRecords], [Engine.MaskCopyRecords] and [Engine.MarshalRecords]
// decide each field for the record it belongs to: the nearest enclosing
// value of a struct type that [Options.Records] names (by default, struct
// types with an iam:"key" field). The decision callback receives the
// permission and that record, copied as it was before any of its fields
// was masked; answers are remembered per record. Fields of an embedded
// struct belong to the enclosing record. iam's RecordMasker uses this to
// decide each record at the scope its own fields place it in. A part that
// two records share (through a pointer, slice or map whose type can form a
// cycle, so the walk visits it once) is shown only if every record that
// reaches it may show it; a record the part holds is still decided for
// itself.
//
// # Robustness
//
// The Engine visits each pointer, slice and map once, so cycles end (a
// struct pointing at itself, a map holding itself through an interface).
// Maps whose keys can be NaN are refilled rather than updated by key, so
// no unmasked entry stays beside its masked copy; map keys are masked like
// values. A value nested more than [MaxDepth] levels deep is refused with a
// [*ValueError]; the part beyond the limit is cut off (set to its zero
// value) so nothing unmasked stays reachable from it. Nil pointers, nil
// maps and typed nils in interfaces are left as they are.
//
// # Concurrency
//
// An [Engine] is safe for concurrent use and is meant to be shared: it
// builds each type's plan once, under a lock, and reads it without one
// afterwards. Masking a value changes that value, so one value must not be
// masked by two goroutines at once, nor read while it is being masked;
// [Engine.MaskCopy], [Copy] and [Engine.Marshal] leave their argument
// untouched. Custom maskers and the may and viewed callbacks are called on
// the calling goroutine. The package has no mutable global state: the key
// that seals SINs is made once, at start-up, and never changes.
package masking
