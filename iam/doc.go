// Package iam is the front door of the authorization library: a service
// creates one [Authorizer] at start-up and asks it [Authorizer.Check],
// [Authorizer.Require], [Authorizer.CheckMany], [Authorizer.Explain],
// [Authorizer.Permissions] and [Authorizer.WhoCan].
//
// Beyond checks, the Authorizer serves:
//
//   - data scopes: [Authorizer.Filter] turns a subject's grants and the
//     city's [DataRule]s (configured once with [Authorizer.NewScoper]) into
//     an abac.Filter that matches records in memory and renders to
//     parameterised SQL or a gorm scope; [Authorizer.CheckRecord] decides
//     one record. Both admit a record exactly when [Authorizer.Check]
//     allows at the scopes the record is in (the declared scope tree,
//     denies, windows); a record that cannot be placed is admitted only
//     where org grants reach, and is denied by every deny of that kind;
//   - field masking: [Authorizer.Mask] (or a [Masker] with custom masks)
//     hides the fields a subject may not view and emits pii.viewed for every
//     unmasked PII field; [Masker.Marshal] writes a SIN's digits for a
//     subject who holds its permission, and a [RecordMasker] (or the
//     Masker's *Records methods) decides each record at the scopes its own
//     fields place it in, as [Authorizer.CheckRecord] does;
//   - role lifecycle: [Authorizer.Apply], [Authorizer.Assign],
//     [Authorizer.Revoke], [Authorizer.Assignments], temporary grants and a
//     [Reaper], segregation-of-duties rules enforced on every write
//     ([ErrConflict]) with a compliance report, emergency access
//     ([Authorizer.ActivateEmergency]) with a post-incident [Review], and
//     access reviews ([Authorizer.AccessReview], [Authorizer.DryRunRemove],
//     [Authorizer.CertificationReport]);
//   - freshness across processes: a [Notifier] triggers reloads,
//     [WithMaxStaleness] makes checks fail closed with [ErrStale] when the
//     snapshot cannot be confirmed current, [Authorizer.WaitForRevision]
//     gives read-your-own-writes, [WithFallback] lets a process start from an
//     authenticated local copy while the store is unreachable (and compares
//     the copy with the store when it answers), and [Authorizer.Health]
//     reports it all;
//   - domain events: every change and every security-relevant decision is an
//     [Event] sent to an [AuditSink] (or, with a store that implements
//     [EventWriter], written to an outbox in the same transaction).
//
// An Authorizer is safe for concurrent use. Each decision reads one
// immutable policy snapshot; reloads build a new snapshot off to the side
// and swap it in atomically, so a request never sees half of an update, and
// an invalid policy from the store never replaces a valid one. Each snapshot
// owns its own cache of per-subject effective grants, so a reload has
// nothing to invalidate and a result computed on an old snapshot can never
// be served from a newer one. A cache entry also carries the instant it
// stops being true (the next start or end of one of the subject's temporary
// grants), so time alone retires it.
//
// Decisions fail closed: the zero [Decision] denies, malformed input is an
// error wrapping [ErrInvalidInput] (and a deny), and a closed Authorizer
// returns [ErrClosed].
//
// iam never talks to PostgreSQL or Redis itself. Storage and change
// notifications arrive through the small interfaces [PolicySource] (and,
// optionally, [CompiledSource] and [RevisionSource]), [PolicyWriter],
// [Notifier], [SnapshotStore] and [AuditSink]; the adapters packages
// provide implementations.
package iam
