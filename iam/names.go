package iam

import "github.com/civic-platform/security/rbac"

// Org is the whole organisation, the scope above every other; a grant at
// Org covers every scope.
const Org = OrgScope

// User returns the subject of a person: User("alice") is "user:alice".
// It does not validate id; see "Names" in the package documentation.
func User(id string) Subject { return named(rbac.User, id) }

// Service returns the subject of a service account: Service("permits-api")
// is "svc:permits-api".
func Service(id string) Subject { return named(rbac.Service, id) }

// Group returns the subject of a group of people: Group("permit-desk") is
// "group:permit-desk". A grant to it reaches its members.
func Group(id string) Subject { return named(rbac.Group, id) }

// Unit returns the subject of an org unit: Unit("planning") is
// "unit:planning". A grant to it reaches its members.
func Unit(id string) Subject { return named(rbac.Unit, id) }

// Dept returns a department's scope: Dept("building") is "dept:building".
// It does not validate id; see "Names" in the package documentation.
func Dept(id string) Scope { return Scope(string(rbac.Dept) + ":" + id) }

// Ward returns a ward's scope: Ward("7") is "ward:7".
func Ward(id string) Scope { return Scope(string(rbac.Ward) + ":" + id) }

// Facility returns a facility's scope: Facility("city-hall") is
// "facility:city-hall".
func Facility(id string) Scope { return Scope(string(rbac.Facility) + ":" + id) }

func named(k rbac.SubjectKind, id string) Subject { return Subject(string(k) + ":" + id) }
