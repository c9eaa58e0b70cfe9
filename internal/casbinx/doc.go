// Package casbinx is the bridge between an rbac.Model and Casbin: the
// embedded Casbin model text, the policy lines a model is stored as (the rows
// gorm-adapter keeps), the way back from lines to a model, and a plain Casbin
// enforcer over a model that serves as the reference semantics in tests and
// benchmarks.
//
// Line format (ptype first, as gorm-adapter's casbin_rule stores it):
//
//	p,  <subject>, role:<id>, <scope>, <from>, <until>, allow|deny   assignment (twice, one per effect)
//	g,  <user or svc>, <group or unit>                               membership
//	g2, role:<child>, role:<parent>                                  inheritance / composition
//	g2, role:<id>, allow:<rule> | deny:<rule>                        rule
//	g2, role:<id>, meta:role | meta:composite | meta:emergency       role declaration and flags
//	g2, allow:<permission>, meta:permission                          catalog entry
//	g3, <scope>, <parent>                                            scope tree
//
// <from> and <until> are Unix nanoseconds as twenty decimal digits, so that
// Casbin's string comparison orders them; 00000000000000000000 is the open
// start and 99999999999999999999 the open end, and each marker means
// "open" only at its own end. A window end is an instant strictly after the
// Unix epoch and before instant.Latest() (rbac refuses others when a model is
// written), so no real instant encodes as a marker.
//
// Only names that rbac validated reach the lines this package writes, so
// none can hold a comma, quote, newline or other separator.
//
// # Rows written by others
//
// [LoadRows] reads rows as they are stored, whoever wrote them. Rows in the
// format above load exactly; any other row (a lone allow or deny line, a
// value rbac refuses, an instant the format cannot represent, a reference
// to a role with no lines, a second parent, a cycle) is quarantined: left
// out of the model, listed in rbac.Model.Quarantine with its row id, and
// granting nothing. Because a Casbin enforcer over the same rows would
// still apply the deny lines such a row adds or reaches, LoadRows blocks
// (denies everything to) every subject the row could subject to a deny,
// worked out on Casbin's own graphs of all the rows. The policy therefore
// never allows what Casbin denies over the same rows, and differs from
// Casbin only by denying while a quarantined row is present.
package casbinx
