package rbac

import (
	"slices"
	"testing"
	"time"
)

func reportModel() Model {
	return Model{
		Permissions: []Permission{"permits.application.read", "permits.application.approve", "permits.fee.waive"},
		Roles: []Role{
			{ID: "base", Permissions: []Permission{"permits.application.read"}},
			{ID: "clerk", Inherits: []RoleID{"base"}, Permissions: []Permission{"permits.application.create"}},
			{ID: "cbo", Inherits: []RoleID{"clerk"}, Permissions: []Permission{"permits.*"}, Deny: []Permission{"permits.fee.waive"}},
			{ID: "twin", Inherits: []RoleID{"base", "clerk"}},
		},
		Members: []Membership{{Member: "user:bo", Group: "group:desk"}, {Member: "user:al", Group: "group:desk"}, {Member: "user:al", Group: "unit:permits"}},
		Grants: []Grant{
			{Subject: "group:desk", Role: "clerk", Scope: "org"},
			{Subject: "unit:permits", Role: "cbo", Scope: "org"},
			{Subject: "user:cy", Role: "twin", Scope: "org"},
		},
	}
}

func TestReportQueries(t *testing.T) {
	p, err := Compile(reportModel())
	if err != nil {
		t.Fatal(err)
	}
	if got := p.RolePermissions("cbo"); !slices.Equal(got, []Permission{"permits.application.approve", "permits.application.create", "permits.application.read"}) {
		t.Errorf("RolePermissions(cbo) = %v", got)
	}
	if got := p.RolePermissions("nope"); got != nil {
		t.Errorf("RolePermissions(undeclared) = %v", got)
	}
	// Every role's permissions are what a subject holding only it may use.
	for _, r := range []RoleID{"base", "clerk", "cbo", "twin"} {
		m := reportModel()
		m.Grants = []Grant{{Subject: "user:probe", Role: r, Scope: OrgScope}}
		q, err := Compile(m)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := q.Permissions("user:probe", OrgScope, time.Now())
		if got := p.RolePermissions(r); !slices.Equal(got, want) {
			t.Errorf("RolePermissions(%s) = %v; a holder may use %v", r, got, want)
		}
	}
	chains := p.RoleChains("twin")
	want := [][]RoleID{{"twin"}, {"twin", "base"}, {"twin", "clerk"}}
	if !slices.EqualFunc(chains, want, slices.Equal) {
		t.Errorf("RoleChains(twin) = %v; want %v (shortest chain each, nearest first)", chains, want)
	}
	if p.RoleChains("nope") != nil {
		t.Error("RoleChains of an undeclared role")
	}
	if got := p.ContainersOf("user:al"); !slices.Equal(got, []Subject{"group:desk", "unit:permits"}) {
		t.Errorf("ContainersOf(al) = %v", got)
	}
	if got := p.ContainersOf("user:nobody"); len(got) != 0 {
		t.Errorf("ContainersOf(unknown) = %v", got)
	}
	if got := p.MembersOf("group:desk"); !slices.Equal(got, []Subject{"user:al", "user:bo"}) {
		t.Errorf("MembersOf(desk) = %v", got)
	}
	if got := p.MembersOf("group:none"); len(got) != 0 {
		t.Errorf("MembersOf(unknown) = %v", got)
	}
}
