// Package iamtest gives services the fakes we use ourselves, so that their
// tests need no database.
//
// [New] builds an [Env]: an [iam.Authorizer] over an in-memory [Store],
// the [iam.Admin] that writes its policy, a [ManualClock] the test moves
// and a [Recorder] that receives every event. It fails the test at once
// if the model is invalid and closes the Authorizer when the test ends:
//
//	func TestActingClerk(t *testing.T) {
//		env := iamtest.New(t, model)
//		_, err := env.Admin.Assign(ctx, rbac.Grant{Subject: "user:bob", Role: "permit-clerk",
//			Scope: "org", NotAfter: env.Clock.Now().Add(24 * time.Hour)})
//		...
//		env.Clock.Advance(25 * time.Hour) // the grant has ended
//		d, err := env.Authorizer.Check(ctx, "user:bob", "permits.application.read", "org")
//		got := env.Events.Find(iam.EventRoleAssigned, "user:bob")
//	}
//
// [NewAuthorizer] is the same for a test that needs only the Authorizer.
//
// # Events as in production
//
// The fake store delivers change events the way the SQL stores do. Env's
// Admin is built with [iam.NewOutboxAdmin], as a production service on
// adapters/pgstore or adapters/sqlitestore builds it: each change and its
// events are kept together in the store's outbox ([Store.ApplyWithEvents])
// and relayed from there, oldest first and decoded from the stored JSON,
// as adapters/pgoutbox relays them ([Store.Relay]). The Env's store relays
// as soon as each change is kept ([Store.AutoRelay]), so a test finds a
// write's events in Events when the write returns. Events about decisions
// and refused changes reach Events through the Authorizer's sink, as they
// do in production. A test in this package runs one scenario on the fake,
// on the embedded SQLite store and on PostgreSQL (each with pgoutbox's
// relay), with both constructions of the Admin, and requires the same
// events in the same order.
//
// # Pieces
//
// The pieces are usable alone: [NewStore] (an iam.PolicySource,
// iam.PolicyWriter and iam.EventWriter), [NewClock] and [Clock] (a clock
// moved by hand, or fixed, for [iam.WithClock]) and [Recorder] (an
// [iam.AuditSink] that finds events by type and subject, waits for one
// and forgets them).
//
// New and NewAuthorizer take a [TB], the four methods of [testing.TB]
// they use, so that *testing.T, *testing.B and *testing.F all fit, and
// so that the package's Example can run.
//
// Every value in the package is safe for concurrent use.
package iamtest
