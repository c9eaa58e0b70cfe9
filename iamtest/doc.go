// Package iamtest gives services the fakes we use ourselves, so that their
// tests need no database.
//
// [New] builds an [Env]: an [iam.Authorizer] over an in-memory [Store],
// the writer that changes its policy, a [ManualClock] the test moves and a
// [Recorder] that receives every event. It fails the test at once if the
// model is invalid and closes the Authorizer when the test ends:
//
//	func TestActingClerk(t *testing.T) {
//		env := iamtest.New(t, model)
//		_, err := env.Admin.Assign(ctx, rbac.Grant{Subject: "user:bob", Role: "permit-clerk",
//			Scope: "org", NotAfter: env.Clock.Now().Add(24 * time.Hour)})
//		...
//		env.Clock.Advance(25 * time.Hour)             // the grant has ended
//		d, err := env.Authorizer.Check(ctx, "user:bob", "permits.application.read", "org")
//		got := env.Events.Find(iam.EventRoleAssigned, "user:bob")
//	}
//
// [NewAuthorizer] is the same for a test that needs only the Authorizer.
// The pieces are usable alone: [NewStore] (an iam.PolicySource and
// iam.PolicyWriter), [NewClock] and [Clock] (a clock moved by hand, or
// fixed, for [iam.WithClock]) and [Recorder] (an [iam.AuditSink] that
// finds events by type and subject and waits for one).
//
// New and NewAuthorizer take a [TB], the three methods of [testing.TB]
// they use, so that *testing.T, *testing.B and *testing.F all fit.
//
// Every value in the package is safe for concurrent use.
package iamtest
