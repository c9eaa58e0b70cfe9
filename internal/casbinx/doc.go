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
// Only names that rbac validated reach this package, so no line can hold a
// comma, quote, newline or other separator.
package casbinx
