package memstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/civic-platform/security/adapters/memstore"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/internal/gormstore/storetest"
	"github.com/civic-platform/security/rbac"
)

// The store satisfies iam's interfaces; only tests import iam.
var (
	_ iam.PolicySource = (*memstore.Store)(nil)
	_ iam.PolicyWriter = (*memstore.Store)(nil)
)

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) storetest.Fixture {
			s, err := memstore.New(rbac.Model{})
			if err != nil {
				t.Fatal(err)
			}
			return storetest.Fixture{Store: s}
		},
		KeepsText:       true,
		StoresConflicts: true,
	})
}

func TestNewStartsAtRevisionOne(t *testing.T) {
	t.Parallel()
	s, err := memstore.New(storetest.CityModel())
	if err != nil {
		t.Fatal(err)
	}
	m, rev, err := s.LoadPolicy(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rev != 1 {
		t.Errorf("revision %d, want 1", rev)
	}
	storetest.Equal(t, m, storetest.CityModel(), true)
	if m.Roles[0].Labels["fr"] != "Lecteur de permis" {
		t.Errorf("labels not kept: %v", m.Roles[0].Labels)
	}
}

func TestNewRefusesInvalidModel(t *testing.T) {
	t.Parallel()
	m := storetest.CityModel()
	m.Grants[0].Role = "ghost"
	_, err := memstore.New(m)
	if !errors.Is(err, rbac.ErrInvalidInput) || errors.Is(err, rbac.ErrNotFound) {
		t.Fatalf("err = %v, want ErrInvalidInput only (a model naming a missing role is invalid)", err)
	}
}

// The store copies on the way in and out: a caller mutating a model it
// passed in or got back changes nothing stored.
func TestCopies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	in := storetest.CityModel()
	s, err := memstore.New(in)
	if err != nil {
		t.Fatal(err)
	}
	in.Roles[0].Permissions[0] = "parks.bench.paint"
	in.Roles[0].Labels["en"] = "changed"
	out, _, _ := s.LoadPolicy(ctx)
	out.Roles[1].Inherits[0] = "cbo"
	out.Grants[0].Subject = "user:mallory"
	r := rbac.Role{ID: "newrole", Permissions: []rbac.Permission{"permits.application.read"}}
	if _, err := s.Apply(ctx, rbac.Change{PutRoles: []rbac.Role{r}}); err != nil {
		t.Fatal(err)
	}
	r.Permissions[0] = "parks.bench.paint"
	replaced := storetest.CityModel()
	if _, err := s.Replace(ctx, replaced); err != nil {
		t.Fatal(err)
	}
	replaced.Members[0].Member = "user:mallory"
	got, _, _ := s.LoadPolicy(ctx)
	storetest.Equal(t, got, storetest.CityModel(), true)
}

// Apply and Replace from many goroutines, with readers, under -race.
func TestConcurrentReplaceAndApply(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := memstore.New(storetest.CityModel())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				if _, err := s.Replace(ctx, storetest.CityModel()); err != nil {
					t.Error(err)
				}
				return
			}
			_, err := s.Apply(ctx, rbac.Change{Join: []rbac.Membership{{Member: "user:zoe", Group: "group:clerks"}}})
			if err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			if _, _, err := s.LoadPolicy(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if _, rev, _ := s.LoadPolicy(ctx); rev != 9 {
		t.Errorf("revision %d after 8 writes, want 9", rev)
	}
}

// The store works as the source of an Authorizer: a change applied through
// iam is visible to the next check.
func TestWithAuthorizer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := memstore.New(storetest.CityModel())
	if err != nil {
		t.Fatal(err)
	}
	authz, err := iam.New(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	defer authz.Close()
	c := rbac.Change{Grant: []rbac.Grant{{Subject: "user:zoe", Role: "clerk", Scope: "ward:7"}}}
	if _, err := iam.NewAdmin(authz, s).Apply(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, rev, _ := s.LoadPolicy(ctx); rev != 2 {
		t.Errorf("store at revision %d after one change, want 2", rev)
	}
}
