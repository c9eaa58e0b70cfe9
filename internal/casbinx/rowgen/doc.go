// Package rowgen generates casbin_rule rows the way a plain Casbin enforcer
// could write them through gorm-adapter — well-formed assignments and
// ill-formed ones, lone allow and deny lines, memberships, role and scope
// edges with values this module refuses — and the requests to compare a
// Casbin enforcer and the compiled policy on. It is for tests.
package rowgen
