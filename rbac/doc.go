// Package rbac is the vocabulary and rules of role-based access for the
// municipal platform: permissions and their grammar, scopes, roles with
// inheritance and composition, deny rules, assignments with validity windows,
// and [Compile], which validates a [Model] and flattens it into an immutable
// [Policy] that answers checks with a few lookups.
//
// # Vocabulary
//
//   - A [Permission] is module.entity.action or module.entity.field.action,
//     lower-case segments of [a-z0-9_] (permits.application.approve,
//     crm.citizen.sin.view). A role's rule may end in a wildcard segment
//     (permits.*, permits.application.*); a request never does. A wildcard
//     covers the permissions the model knows: those named by any rule or
//     listed in [Model.Permissions].
//   - A [Scope] is org, dept:<id>, ward:<id> or facility:<id>. Scopes form a
//     tree the city declares with [ScopeNode]s; every scope is under org. A
//     grant at a scope covers that scope and every scope beneath it. [Update]
//     refuses a new grant at a scope the tree does not declare unless the
//     model sets [Model.ImplicitScopes]; a stored grant at an undeclared
//     scope still loads, and the scope sits directly under org.
//   - A [Subject] is user:<id>, svc:<id> (service account), group:<id> or
//     unit:<id> (org unit). Users and service accounts belong to groups and
//     units through [Membership]s. Roles are a separate namespace: a subject
//     never receives anything from a role that merely shares its name.
//   - A [Role] has allow and deny rules and inherits the rules of the roles it
//     lists in Inherits. A composite role (Finance Manager = AP + AR + GL +
//     Budget) is a role that inherits from roles in several modules. Deny
//     beats allow: a subject holding any role that denies a permission at a
//     covering scope is denied, whatever else it holds.
//   - A [Grant] assigns a role to a subject at a scope, optionally from
//     NotBefore and until NotAfter. A grant outside its window grants nothing;
//     the check compares with the time it is given, so no background job is
//     needed for a temporary role to stop. A new grant whose window has
//     already ended at [Change.At] is refused.
//
// # Checks
//
// [Policy.Resolve] turns a permission and a scope into a [Query];
// [Policy.Decide] answers it for a subject at an instant, allocating
// nothing; [Policy.Allows] does both and denies malformed input. A grant's
// window holds from NotBefore (inclusive) to NotAfter (exclusive); each end
// lies strictly after the Unix epoch and before the year 2262, and
// [Compile] refuses others. The file testdata/decisions.txt holds
// (policy, request, decision) cases that the tests run against both this
// package and a plain Casbin enforcer over the same model.
//
// # Emergency access
//
// A role marked Emergency, and every role that inherits it directly or
// through other roles (a composite over it included), is an emergency role
// ([Policy.IsEmergency], [EmergencyRoles]). A grant of one must name both
// ends of a window of at most [MaxEmergencyWindow]; a check made while such
// a grant is in force at a covering scope — the subject's own or one of its
// groups' or units' — is flagged with [Result.Emergency] so that the facade
// audits it. [Update] refuses, with an [*EmergencyError]: a change that
// turns a granted role into or out of an emergency role while its grants
// have not ended; and any change after which one person's emergency
// windows that have not ended do not fit in one span of
// MaxEmergencyWindow, or that makes emergency access in force end later.
// The rule holds however the access is assembled (own grants, groups, org
// units, nested scopes, one change or several); past the cap, a person
// needs a new activation once the access in force has ended. Every new
// grant of an emergency role is such an activation.
//
// # Queries
//
// Besides checks, a [Policy] answers read-only questions for the facade's
// data scopes and reports, so that RBAC semantics live here alone:
// [Policy.GrantsInForce] (which grants of a subject bear on a permission at
// an instant, allowing or denying, and for how long that holds),
// [Policy.RoleHolds] and [Policy.RoleLineage] (what a role holds, through
// what it inherits), and the scope tree: [Policy.Scopes],
// [Policy.ScopeLineage], [Policy.Beneath], [Policy.ScopeCovers].
//
// # Segregation of duties
//
// A [ConflictRule] names two roles, or two permissions, that no user or
// service account may hold together. It applies wherever the two are held:
// at any scopes, directly or through groups and org units, through
// inheritance or a composite, whenever the grants' windows overlap.
// [Policy.Violations] lists every violation (the compliance report), and
// [Update] refuses any change after which someone holds both sides in a
// way they did not before: a new violation, or an existing one that lasts
// longer, starts earlier, or whose grants reach further down the scope
// tree. A violation that predates its rule is accepted exactly as it was;
// it cannot be renewed, extended or widened, whatever else a change edits.
// [CheckReplace] applies the same rule to replacing a whole model. A
// [Waiver] permits the violations of one rule by one principal only while
// it is in force at the instant of the change ([Change.At]); it is approved
// by another user or service account, never by the principal itself.
//
// # Purity and concurrency
//
// rbac does no I/O, reads no clock (time is a parameter), keeps no globals
// and starts no goroutines. A [Policy] is never modified after [Compile]
// returns, so it is safe for concurrent use without locks.
package rbac
