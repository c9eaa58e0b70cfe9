// Package iam is the front door of the authorization library. Its types
// are split by role:
//
//   - [Authorizer] answers questions and manages its own lifecycle: a
//     service creates one at start-up with [New] and asks it
//     [Authorizer.Check], [Authorizer.Require], [Authorizer.CheckMany],
//     [Authorizer.Explain], [Authorizer.Permissions] and
//     [Authorizer.WhoCan]; [CheckAuthenticated] adds step-up for callers
//     whose authentication ([Authn]) lacks a second factor.
//   - [Admin] writes policy, built explicitly from the Authorizer and a
//     writer: [NewAdmin] sends change events to the [AuditSink] after the
//     write, [NewOutboxAdmin] writes them in the change's transaction.
//   - [View] is a read-only view of the snapshot the Authorizer answers
//     from; package iam/reports builds compliance, certification, access
//     review, dry-run and emergency reports over it.
//
// Beyond checks, the Authorizer serves:
//
//   - data scopes: [Authorizer.Filter] turns a subject's grants and the
//     city's [DataRule]s (configured once with [NewScoper], checked at
//     start-up with [Scoper.Verify]) into
//     an abac.Filter that matches records in memory and renders to
//     parameterised SQL or a gorm scope; [Authorizer.CheckRecord] decides
//     one record. Both admit a record exactly when [Authorizer.Check]
//     allows at the scopes the record is in (the declared scope tree,
//     denies, windows); a record that cannot be placed is admitted only
//     where org grants reach, and is denied by every deny of that kind;
//   - field masking: a [Masker] ([Authorizer.Masker]) hides the fields a
//     subject may not view and emits pii.viewed for every
//     unmasked PII field; [Masker.Marshal] writes a SIN's digits for a
//     subject who holds its permission, and a [RecordMasker] (or the
//     Masker's *Records methods) decides each record at the scopes its own
//     fields place it in, as [Authorizer.CheckRecord] does;
//   - role lifecycle, through an [Admin]: [Admin.Apply], [Admin.Assign],
//     [Admin.Revoke], temporary grants and a [Reaper],
//     segregation-of-duties rules enforced on every write ([ErrConflict]),
//     and emergency access ([Admin.ActivateEmergency],
//     [Admin.EndEmergency]); the reports on them (assignments, compliance,
//     certification, access review, dry-run removal, the post-incident
//     emergency review) live in package iam/reports;
//   - deploys: [Admin.Sync] makes the store hold a service's base roles as
//     declared, in one revision when something differs and none when
//     nothing does, whatever the order of the declaration; [DryRun]
//     reports the difference without writing, and roles the service did
//     not declare are never deleted unless [PruneOwned] claims them;
//   - freshness across processes: a [Notifier] triggers reloads,
//     [WithMaxStaleness] makes checks fail closed with [ErrStale] when the
//     snapshot cannot be confirmed current, [Authorizer.WaitForRevision]
//     gives read-your-own-writes, [WithFallback] lets a process start from an
//     authenticated local copy while the store is unreachable (and compares
//     the copy with the store when it answers), and [Authorizer.Health]
//     reports it all;
//   - domain events: every change and every security-relevant decision is an
//     [Event] sent to an [AuditSink] (or, for changes made through an Admin
//     built with [NewOutboxAdmin], written to the store's outbox in the same
//     transaction).
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
// # Fresh by default across processes
//
// [New] over a store that reports its revision ([RevisionSource]: the
// PostgreSQL and SQLite stores in adapters/) keeps itself current with no
// further options:
//
//   - it reads the store's revision every [DefaultPollInterval] (1 s; one
//     small query) and loads the policy only when the revision moved, so
//     another process's change arrives within about a second and a half;
//     [WithPollInterval] changes the interval or turns the poll off
//     ([NoPoll]);
//   - with a [Notifier] ([WithNotifier]; adapters/pgnotify for
//     PostgreSQL's LISTEN/NOTIFY) changes arrive within milliseconds and
//     the poll gives way to it while it is connected, coming back while it
//     is not;
//   - it fails closed: once it could not confirm its snapshot current for
//     [DefaultMaxStaleness] (30 s), decisions are refused with [ErrStale]
//     until the store answers again. A decision that finds the bound passed
//     first reads the revision itself, so only an unreachable (or moved)
//     store refuses. [WithMaxStaleness] changes the bound;
//     [NoStalenessBound] removes it, explicitly;
//   - [Authorizer.Health] says how far behind the store the snapshot may be
//     (Behind, LastConfirmed), what bounds it, and whether the source
//     reports its revision at all.
//
// A source that does not report its revision (adapters/memstore, which
// lives in one process, or a wrapper that hides a store's Revision) gets no
// poll and no bound unless one is set, since confirming it would mean
// loading the whole policy; Health shows RevisionSource false.
//
// # Errors
//
// Every error a caller branches on matches exactly one of the sentinels
// below with errors.Is; two are refinements of another and match both
// (ErrStepUp is a denial, rbac.ErrEmergency is invalid input). Each error
// carries detail for operators (subjects, roles, paths, revisions) in its
// text; [PublicMessage] gives the fixed, client-safe message instead, and
// [HTTPStatus] the status a service answers with:
//
//	sentinel              status  client message
//	ErrStepUp             403     multi-factor authentication required: verify a second factor and retry
//	ErrDenied             403     access denied
//	ErrInvalidInput       400     invalid request   (malformed names, a bad window, an inconsistent change;
//	                                                 rbac.ErrEmergency: an emergency rule refused it)
//	ErrNotFound           404     not found         (a change or report names a role, grant, membership,
//	                                                 rule or activation that does not exist)
//	ErrExists             409     already exists    (a grant the subject already holds at that scope,
//	                                                 with any window: Assign is not an upsert)
//	ErrConflict           409     refused by a segregation-of-duties rule
//	ErrChanged            409     changed since it was read: read it again and retry
//	ErrReadOnly           405     policy changes are not accepted here
//	ErrStale              503     authorization is temporarily unavailable: retry shortly
//	ErrClosed             503     authorization is temporarily unavailable: retry shortly
//	context errors        503     authorization is temporarily unavailable: retry shortly
//	anything else         500     internal error
//
// A model read from the store that names a missing role is invalid
// (ErrInvalidInput); a change that names one is not found (ErrNotFound);
// a change that deletes a role still granted or inherited is invalid.
//
// # Names
//
// [User], [Service], [Group] and [Unit] build subjects, [Dept], [Ward] and
// [Facility] scopes, and [Org] is the whole organisation: iam.User("alice")
// is "user:alice". They do not validate: an id that is empty, upper-case
// or holds a separator gives a value that every decision refuses with
// [ErrInvalidInput] (Check denies it), never a different, valid subject,
// since an id cannot hold the colon that separates kind and id. Call
// Validate on the value to check it early.
//
// iam never talks to PostgreSQL or Redis itself. Storage and change
// notifications arrive through the small interfaces [PolicySource] (and,
// optionally, [CompiledSource] and [RevisionSource]), [PolicyWriter],
// [Notifier], [SnapshotStore] and [AuditSink]; the adapters packages
// provide implementations.
package iam
