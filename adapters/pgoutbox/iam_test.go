package pgoutbox_test

import (
	"context"
	"errors"
	"testing"

	"github.com/civic-platform/security/adapters/pgoutbox"
	"github.com/civic-platform/security/adapters/sqlitestore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/rbac"
)

// The SQL stores are iam.EventWriters: the Authorizer writes change events
// through them, in the change's transaction.
var (
	_ iam.EventWriter = (*sqlitestore.Store)(nil)
	_ pgoutbox.Sink   = iam.AuditSink(nil)
)

func TestAuthorizerWritesChangeEventsToTheOutbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s, db, _ := b.open(t)
			if _, err := s.Replace(ctx, seed()); err != nil {
				t.Fatal(err)
			}
			src, ok := s.(iam.PolicySource)
			if !ok {
				t.Fatalf("%T is not a policy source", s)
			}
			w, ok := s.(iam.EventWriter)
			if !ok {
				t.Fatalf("%T has no outbox", s)
			}
			direct := &recorder{}
			a, err := iam.New(ctx, src, iam.WithAuditSink(direct))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			ad := iam.NewOutboxAdmin(a, w)
			if _, err := ad.Assign(iam.ContextWithActor(ctx, "user:hr"), iam.Grant{Subject: "user:mo", Role: "po-creator", Scope: "org", Reason: "new hire"}); err != nil {
				t.Fatal(err)
			}
			// A refused change: its blocked event goes straight to the sink.
			if _, err := ad.Assign(ctx, iam.Grant{Subject: "user:mo", Role: "po-approver", Scope: "org"}); !errors.Is(err, iam.ErrConflict) {
				t.Fatalf("conflicting assign: %v", err)
			}
			if got := direct.got; len(got) != 1 || got[0].Type != iam.EventRoleAssignmentBlocked {
				t.Fatalf("sink got %+v before relaying, want only the blocked event", got)
			}
			relayed := &recorder{}
			n, err := newRelay(t, db, relayed).Drain(ctx)
			if err != nil || n != 1 {
				t.Fatalf("Drain = %d, %v", n, err)
			}
			e := relayed.got[0]
			if e.Type != iam.EventRoleAssigned || e.Subject != "user:mo" || e.Actor != "user:hr" || e.ID == "" || e.Version != 1 ||
				e.Revision != a.Revision() || e.Detail["reason"] != "new hire" || e.Time.IsZero() {
				t.Errorf("relayed event = %+v", e)
			}
			m, _, err := s.LoadPolicy(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Grants) != 1 || m.Grants[0].Key() != (rbac.GrantKey{Subject: "user:mo", Role: "po-creator", Scope: "org"}) {
				t.Errorf("stored grants = %+v", m.Grants)
			}
		})
	}
}
