package iam_test

import (
	"context"
	"slices"
	"testing"

	"gorm.io/gorm"

	"github.com/civic-platform/security/abac"
	"github.com/civic-platform/security/adapters/gormscope"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/internal/testdb"
	"github.com/civic-platform/security/rbac"
)

// unplacedCity has a three-level tree (a facility under a ward under a
// department, and one under a department directly) and subjects with a
// grant at org less a deny at each kind of scope.
func unplacedCity() rbac.Model {
	return rbac.Model{
		Scopes: []rbac.ScopeNode{
			{Scope: "dept:social"}, {Scope: "dept:roads"},
			{Scope: "ward:7", Parent: "dept:social"}, {Scope: "ward:3", Parent: "dept:roads"},
			{Scope: "facility:shelter", Parent: "ward:7"}, {Scope: "facility:depot", Parent: "dept:roads"},
		},
		Roles: []rbac.Role{
			{ID: "reader", Permissions: []rbac.Permission{"crm.case.read"}},
			{ID: "blocked", Deny: []rbac.Permission{"crm.*"}},
		},
		Grants: []rbac.Grant{
			{Subject: "user:w", Role: "reader", Scope: "org"}, {Subject: "user:w", Role: "blocked", Scope: "ward:7"},
			{Subject: "user:d", Role: "reader", Scope: "org"}, {Subject: "user:d", Role: "blocked", Scope: "dept:social"},
			{Subject: "user:f", Role: "reader", Scope: "org"}, {Subject: "user:f", Role: "blocked", Scope: "facility:shelter"},
			{Subject: "user:o", Role: "reader", Scope: "org"},
			{Subject: "user:r", Role: "reader", Scope: "dept:roads"},
		},
	}
}

type unplacedRow struct {
	ID         int64   `gorm:"primaryKey;autoIncrement:false" abac:"id"`
	Department *string `abac:"department"`
	Ward       *string `abac:"ward"`
	Facility   *string `abac:"facility"`
}

func (unplacedRow) TableName() string { return "unplaced_rows" }

func sp(s string) *string { return &s }

// TestUnplaceableRecordIsDeniedByEveryDeny is the regression test of "a
// deny never turns into or NULL": a record whose field for the kind of a
// denied scope is NULL or names a scope the policy does not know, and that
// no other field places at a scope of that kind, is removed by the deny, in
// Filter.Match, CheckRecord, the SQL for SQLite and PostgreSQL and through
// gormscope alike. Grants below org never cover it; a grant at org does,
// when no deny of that kind applies.
func TestUnplaceableRecordIsDeniedByEveryDeny(t *testing.T) {
	t.Parallel()
	rows := []unplacedRow{
		{ID: 1},                          // placed nowhere
		{ID: 2, Department: sp("roads")}, // in dept:roads, ward unknown
		{ID: 3, Department: sp("roads"), Ward: sp("3")},
		{ID: 4, Ward: sp("99")},            // unknown ward
		{ID: 5, Ward: sp("3")},             // in ward 3, so in dept:roads
		{ID: 6, Facility: sp("depot")},     // in dept:roads, under no ward
		{ID: 7, Department: sp("nowhere")}, // unknown department
		{ID: 8, Department: sp("social"), Ward: sp("7")},
		{ID: 9, Facility: sp("shelter")}, // in ward 7, so in dept:social
		{ID: 10, Department: sp("roads"), Facility: sp("depot")},
		{ID: 11, Ward: sp("3"), Facility: sp("x")}, // unknown facility
	}
	want := map[iam.Subject][]int64{
		"user:o": {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
		// Outside ward 7 only when a field names another known ward or a
		// facility beneath one.
		"user:w": {3, 5, 11},
		// Outside dept:social only when a field places the record in
		// another known department.
		"user:d": {2, 3, 5, 6, 10, 11},
		// Outside facility:shelter only with another known facility.
		"user:f": {6, 10},
		// A department grant never covers an unplaced record.
		"user:r": {2, 3, 5, 6, 10, 11},
	}
	a, sc := newScoped(t, unplacedCity(), iam.DataScopes{})
	ctx := context.Background()
	var tagged abac.Tagged
	filters := map[iam.Subject]abac.Filter{}
	for sub, ids := range want {
		f, err := a.Filter(ctx, sub, "crm.case.read", sc)
		if err != nil {
			t.Fatal(err)
		}
		filters[sub] = f
		var viaMatch, viaCheck []int64
		for i := range rows {
			rec, err := tagged.Record(&rows[i])
			if err != nil {
				t.Fatal(err)
			}
			if f.Match(rec) {
				viaMatch = append(viaMatch, rows[i].ID)
			}
			d, err := a.CheckRecord(ctx, sub, "crm.case.read", sc, rec)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed {
				viaCheck = append(viaCheck, rows[i].ID)
			}
		}
		if !slices.Equal(viaMatch, ids) || !slices.Equal(viaCheck, ids) {
			t.Errorf("%s: filter %v\nMatch       %v\nCheckRecord %v\nwant        %v", sub, f, viaMatch, viaCheck, ids)
		}
	}
	cols := map[string]string{"id": "id", "department": "department", "ward": "ward", "facility": "facility"}
	for _, d := range []struct {
		name    string
		open    func(testing.TB) *gorm.DB
		dialect abac.Dialect
	}{{"sqlite", openCaseRowsSQLite, abac.SQLite}, {"postgres", testdb.Postgres, abac.Postgres}} {
		t.Run(d.name, func(t *testing.T) {
			db := d.open(t)
			if err := db.Exec(`CREATE TABLE unplaced_rows (id BIGINT PRIMARY KEY, department TEXT, ward TEXT, facility TEXT)`).Error; err != nil {
				t.Fatal(err)
			}
			if err := db.Create(&rows).Error; err != nil {
				t.Fatal(err)
			}
			sqlDB, err := db.DB()
			if err != nil {
				t.Fatal(err)
			}
			for sub, ids := range want {
				f := filters[sub]
				var viaScope []int64
				if err := db.Model(&unplacedRow{}).Scopes(gormscope.Scope(f, cols)).Order("id").Pluck("id", &viaScope).Error; err != nil {
					t.Fatal(err)
				}
				q, args, err := f.AppendSQL([]byte("SELECT id FROM unplaced_rows WHERE "), nil, d.dialect, cols)
				if err != nil {
					t.Fatal(err)
				}
				viaSQL, err := recQueryIDs(sqlDB, string(q)+" ORDER BY id", args)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(viaScope, ids) || !slices.Equal(viaSQL, ids) {
					t.Errorf("%s: filter %v\nSQL       %s %q\nrows      %v\ngormscope %v\nwant      %v", sub, f, q, args, viaSQL, viaScope, ids)
				}
			}
		})
	}
}

// TestUnplaceableRecordMatchesOnlyAnExplicitIsNull checks that a data rule
// saying "ward is null" is what admits a record without a ward, under a
// grant at org, and that a deny at a ward still removes it.
func TestUnplaceableRecordMatchesOnlyAnExplicitIsNull(t *testing.T) {
	t.Parallel()
	m := unplacedCity()
	m.Roles = append(m.Roles, rbac.Role{ID: "intake", Permissions: []rbac.Permission{"crm.case.read"}})
	m.Grants = append(m.Grants,
		rbac.Grant{Subject: "user:i", Role: "intake", Scope: "org"},
		rbac.Grant{Subject: "user:j", Role: "intake", Scope: "dept:social"},
		rbac.Grant{Subject: "user:k", Role: "intake", Scope: "org"}, rbac.Grant{Subject: "user:k", Role: "blocked", Scope: "ward:7"},
	)
	a, sc := newScoped(t, m, iam.DataScopes{Rules: []iam.DataRule{{Role: "intake", Permission: "crm.case.read", Rule: "ward is null"}}})
	ctx := context.Background()
	for _, tt := range []struct {
		sub  iam.Subject
		rec  abac.Map
		want bool
	}{
		{"user:i", abac.Map{}, true},
		{"user:i", abac.Map{"ward": "3"}, false},
		{"user:j", abac.Map{}, false}, // a grant below org never covers it
		{"user:j", abac.Map{"department": "social"}, true},
		{"user:k", abac.Map{}, false}, // the deny at ward 7 removes it
		{"user:k", abac.Map{"ward": nil, "department": "roads"}, false},
	} {
		f, err := a.Filter(ctx, tt.sub, "crm.case.read", sc)
		if err != nil {
			t.Fatal(err)
		}
		d, err := a.CheckRecord(ctx, tt.sub, "crm.case.read", sc, tt.rec)
		if err != nil {
			t.Fatal(err)
		}
		if f.Match(tt.rec) != tt.want || d.Allowed != tt.want {
			t.Errorf("%s on %v: Filter %v admits %v, CheckRecord %v (%s); want %v", tt.sub, tt.rec, f, f.Match(tt.rec), d.Allowed, d.Reason, tt.want)
		}
	}
}
