// Package onboard turns the HR record of an employee into an account and
// roles, and takes them away when the employee leaves: joiners, movers and
// leavers.
//
// # Joiners and movers
//
// [Service.Onboard] takes a [Record] (employee id, names, email, position,
// department, manager, start date, preferred language) and makes it true:
//
//   - the user is created (package signin's user records), with the id
//     [UserID] derives from the employee id;
//   - the position title is mapped to roles by a [Positions] mapping
//     ([DefaultPositions] maps the English and French titles of the shipped
//     municipal templates; cities pass their own with [WithPositions]); a
//     mapped role missing from the policy is created from its template in
//     the same change;
//   - the roles are granted at dept:<department> from the start date, in
//     one policy change written through a [PolicyWriter] (*iam.Admin),
//     which checks segregation-of-duties rules in the store's transaction.
//     The change is also checked against the current policy before
//     anything is written, so a record refused by a conflict rule creates
//     nothing; a joiner's account is created once its roles are written;
//   - a welcome message in the employee's language goes out through a
//     [Mailer] (adapters/smtpmail sends it over SMTP), telling them how to
//     sign in: with single sign-on ([WithSSO]) or with a one-time
//     activation link for local sign-in ([WithActivation], [Activator]).
//
// Onboarding is idempotent by employee id: the same record again changes
// nothing and sends nothing. A record whose position or department changed
// is a mover: the grants of the old position (those whose reason starts
// with [ReasonPrefix] and the employee id) are revoked and the new ones
// granted in one change, and user.moved is emitted beside the change's
// role.revoked and role.assigned events. Grants that someone else made
// stay. A record whose employee id belongs to a user with another email,
// or whose email belongs to another employee, is refused
// ([ErrIdentityConflict]): it could hand one person's account to another.
//
// # Leavers
//
// [Service.Offboard] marks the user offboarded, revokes every grant to
// them (direct, temporary and emergency) and every membership in one
// change, ends every session in every process ([Sessions], a
// session.Manager sharing revocation epochs), revokes the keys of their
// personal service accounts ([PersonalAccountPrefix]) and disables those
// accounts, flags the other service accounts they own for a new owner,
// and emits user.offboarded. It returns an [OffboardReport] of what it
// removed.
//
// # Feeds
//
// [ParseCSV] reads an HRIS export ([Columns]) with line numbers, bounded
// in size (a UTF-8 byte-order mark is dropped; UTF-16 is refused).
// [Service.Plan] compares the feed with the accounts and the policy and
// returns a [Diff] of joiners, movers and leavers without writing
// anything; [Service.ApplyFeed] applies it only if no row has an error,
// with every joiner's and mover's grants in one policy change.
//
// A Service is safe for concurrent use. Events are domain events
// (iam.Event); no event carries an activation link or a password.
package onboard
