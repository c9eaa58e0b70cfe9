package abac_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/civic-platform/security/abac"
)

var caseColumns = map[string]string{
	"ward":     "c.ward_id",
	"status":   "c.status",
	"owner":    "c.owner_id",
	"facility": "c.facility_id",
	"dept":     "c.department",
}

func TestFilterSQL(t *testing.T) {
	t.Parallel()
	wardOpen := abac.Conj{
		{Field: "ward", Op: abac.OpEq, Values: []any{7}},
		{Field: "status", Op: abac.OpIn, Values: []any{"open", "pending"}},
	}
	mine := abac.Conj{
		{Field: "owner", Op: abac.OpEq, Values: []any{"u1"}},
		{Field: "facility", Op: abac.OpIsNull},
	}
	tests := []struct {
		name     string
		f        abac.Filter
		postgres string
		sqlite   string
		args     []any
	}{
		{name: "all", f: abac.All(), postgres: "(1 = 1)", sqlite: "(1 = 1)"},
		{name: "none", f: abac.None(), postgres: "(1 = 0)", sqlite: "(1 = 0)"},
		{name: "zero", f: abac.Filter{}, postgres: "(1 = 0)", sqlite: "(1 = 0)"},
		{name: "empty conj", f: abac.Filter{Any: []abac.Conj{{}}}, postgres: "(1 = 0)", sqlite: "(1 = 0)"},
		{name: "in without values", f: abac.FromConj(abac.Conj{{Field: "dept", Op: abac.OpIn}}), postgres: "(1 = 0)", sqlite: "(1 = 0)"},
		{
			name:     "one condition",
			f:        abac.FromConj(abac.Conj{{Field: "ward", Op: abac.OpEq, Values: []any{7}}}),
			postgres: "(c.ward_id = $1)",
			sqlite:   "(c.ward_id = ?)",
			args:     []any{int64(7)},
		},
		{
			name:     "one conjunction",
			f:        abac.FromConj(wardOpen),
			postgres: "(c.ward_id = $1 AND c.status IN ($2, $3))",
			sqlite:   "(c.ward_id = ? AND c.status IN (?, ?))",
			args:     []any{int64(7), "open", "pending"},
		},
		{
			name:     "two conjunctions",
			f:        abac.FromConj(wardOpen, mine),
			postgres: "((c.ward_id = $1 AND c.status IN ($2, $3)) OR (c.owner_id = $4 AND c.facility_id IS NULL))",
			sqlite:   "((c.ward_id = ? AND c.status IN (?, ?)) OR (c.owner_id = ? AND c.facility_id IS NULL))",
			args:     []any{int64(7), "open", "pending", "u1"},
		},
		{
			name: "impossible conjunction dropped",
			f: abac.FromConj(
				abac.Conj{{Field: "dept", Op: abac.OpIn}, {Field: "ward", Op: abac.OpEq, Values: []any{1}}},
				abac.Conj{{Field: "ward", Op: abac.OpNe, Values: []any{2}}, {Field: "facility", Op: abac.OpIsNotNull}},
			),
			postgres: "(c.ward_id <> $1 AND c.facility_id IS NOT NULL)",
			sqlite:   "(c.ward_id <> ? AND c.facility_id IS NOT NULL)",
			args:     []any{int64(2)},
		},
		{
			name:     "single-element conjunctions",
			f:        abac.Or(abac.FromConj(abac.Conj{{Field: "ward", Op: abac.OpEq, Values: []any{1}}}), abac.FromConj(abac.Conj{{Field: "ward", Op: abac.OpEq, Values: []any{2}}})),
			postgres: "((c.ward_id = $1) OR (c.ward_id = $2))",
			sqlite:   "((c.ward_id = ?) OR (c.ward_id = ?))",
			args:     []any{int64(1), int64(2)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, d := range []struct {
				d    abac.Dialect
				want string
			}{{abac.Postgres, tt.postgres}, {abac.SQLite, tt.sqlite}} {
				got, args, err := tt.f.SQL(d.d, caseColumns)
				if err != nil {
					t.Fatalf("%v: SQL: %v", d.d, err)
				}
				if got != d.want {
					t.Errorf("%v: SQL =\n %s\nwant\n %s", d.d, got, d.want)
				}
				if len(args) != len(tt.args) || (len(args) > 0 && !reflect.DeepEqual(args, tt.args)) {
					t.Errorf("%v: args = %#v, want %#v", d.d, args, tt.args)
				}
			}
		})
	}
}

func TestAppendSQLContinuesNumbering(t *testing.T) {
	t.Parallel()
	f := abac.FromConj(abac.Conj{{Field: "ward", Op: abac.OpIn, Values: []any{1, 2}}})
	q := []byte("SELECT * FROM cases c WHERE c.kind = $1 AND c.year = $2 AND ")
	args := []any{"bylaw", 2025}
	q, args, err := f.AppendSQL(q, args, abac.Postgres, caseColumns)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(q), "SELECT * FROM cases c WHERE c.kind = $1 AND c.year = $2 AND (c.ward_id IN ($3, $4))"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if want := []any{"bylaw", 2025, int64(1), int64(2)}; !reflect.DeepEqual(args, want) {
		t.Errorf("args = %#v, want %#v", args, want)
	}
}

func TestFilterSQLErrors(t *testing.T) {
	t.Parallel()
	good := abac.Conj{{Field: "ward", Op: abac.OpEq, Values: []any{1}}}
	tests := []struct {
		name    string
		f       abac.Filter
		d       abac.Dialect
		cols    map[string]string
		wantErr error
		field   string
	}{
		{name: "unknown field", f: abac.FromConj(abac.Conj{{Field: "secret", Op: abac.OpEq, Values: []any{"x"}}}), wantErr: abac.ErrUnknownField, field: "secret"},
		{name: "unknown field in second conj", f: abac.FromConj(good, abac.Conj{{Field: "nope", Op: abac.OpIsNull}}), wantErr: abac.ErrUnknownField, field: "nope"},
		{name: "unknown field in impossible conj", f: abac.FromConj(good, abac.Conj{{Field: "dept", Op: abac.OpIn}, {Field: "nope", Op: abac.OpIsNull}}), wantErr: abac.ErrUnknownField, field: "nope"},
		{name: "nil allow-list", f: abac.FromConj(good), cols: map[string]string{}, wantErr: abac.ErrUnknownField, field: "ward"},
		{name: "empty column", f: abac.FromConj(good), cols: map[string]string{"ward": ""}, wantErr: abac.ErrUnknownField, field: "ward"},
		{name: "hostile field", f: abac.FromConj(abac.Conj{{Field: "1=1) OR (1", Op: abac.OpIsNull}}), wantErr: abac.ErrUnknownField, field: "1=1) OR (1"},
		{name: "zero op", f: abac.FromConj(abac.Conj{{Field: "ward", Values: []any{1}}}), wantErr: abac.ErrInvalidFilter},
		{name: "= without value", f: abac.FromConj(abac.Conj{{Field: "ward", Op: abac.OpEq}}), wantErr: abac.ErrInvalidFilter},
		{name: "!= two values", f: abac.FromConj(abac.Conj{{Field: "ward", Op: abac.OpNe, Values: []any{1, 2}}}), wantErr: abac.ErrInvalidFilter},
		{name: "is null with value", f: abac.FromConj(abac.Conj{{Field: "ward", Op: abac.OpIsNull, Values: []any{1}}}), wantErr: abac.ErrInvalidFilter},
		{name: "float value", f: abac.FromConj(abac.Conj{{Field: "ward", Op: abac.OpIn, Values: []any{1, 2.5}}}), wantErr: abac.ErrInvalidFilter},
		{name: "nil value", f: abac.FromConj(abac.Conj{{Field: "ward", Op: abac.OpEq, Values: []any{nil}}}), wantErr: abac.ErrInvalidFilter},
		{name: "zero dialect", f: abac.FromConj(good), d: abac.Dialect(0), wantErr: abac.ErrInvalidFilter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cols := tt.cols
			if cols == nil {
				cols = caseColumns
			}
			d := tt.d
			if tt.name != "zero dialect" {
				d = abac.Postgres
			}
			sql, args, err := tt.f.SQL(d, cols)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("SQL = %q, %v, %v; want error %v", sql, args, err, tt.wantErr)
			}
			if sql != "" || args != nil {
				t.Errorf("SQL returned text %q and args %v with an error", sql, args)
			}
			if tt.field != "" {
				var fe *abac.FieldError
				if !errors.As(err, &fe) || fe.Field != tt.field {
					t.Errorf("error %v: want *FieldError for %q", err, tt.field)
				}
			}
			// AppendSQL leaves the caller's query alone on error.
			q, a, err := tt.f.AppendSQL([]byte("x = $1 AND "), []any{"x"}, d, cols)
			if err == nil || string(q) != "x = $1 AND " || len(a) != 1 {
				t.Errorf("AppendSQL on error = %q, %v, %v", q, a, err)
			}
		})
	}
}

// hostile strings that must only ever appear among the arguments.
var hostile = []string{
	"'", "''", `"`, "x' OR '1'='1", "1); DROP TABLE cases; --", "--", ";", "/*", "*/",
	"\x00", "a\x00b", "\\", "$1", "?", "(1 = 1)", " OR 1=1", "ｗａｒｄ", "ward\u202e", "\xff\xfe",
	"Montréal", "东京", "\n", "%s", "\u0000' --",
}

func TestHostileValuesOnlyInArgs(t *testing.T) {
	t.Parallel()
	for _, h := range hostile {
		rule := mustParse(t, "owner = subject.id and dept in subject.depts and status != subject.s")
		c, ok := rule.Bind(abac.Attributes{"id": {h}, "depts": {h, "roads"}, "s": {h}})
		if !ok {
			t.Fatalf("Bind(%q) failed", h)
		}
		f := abac.FromConj(c)
		for _, d := range []abac.Dialect{abac.Postgres, abac.SQLite} {
			sql, args, err := f.SQL(d, map[string]string{"owner": "owner", "dept": "dept", "status": "status"})
			if err != nil {
				t.Fatal(err)
			}
			if len(h) > 2 && strings.Contains(sql, h) {
				t.Errorf("%v: value %q spliced into %q", d, h, sql)
			}
			for _, bad := range []string{"'", ";", "--", "\x00", "\\", "\""} {
				if strings.Contains(sql, bad) {
					t.Errorf("%v: %q in SQL text %q", d, bad, sql)
				}
			}
			want := []any{h, h, "roads", h}
			if !reflect.DeepEqual(args, want) {
				t.Errorf("%v: args = %q, want %q", d, args, want)
			}
		}
	}
}
