package abac_test

import (
	"errors"
	"fmt"

	"github.com/civic-platform/security/abac"
)

// A clerk sees the open cases of their ward and the cases assigned to them.
func Example() {
	var rules []abac.Rule
	for _, text := range []string{
		"ward = subject.ward and status in ('open', 'pending')",
		"owner = subject.id",
	} {
		r, err := abac.ParseRule(text)
		if err != nil {
			fmt.Println("parse:", err)
			return
		}
		rules = append(rules, r)
	}

	clerk := abac.Attributes{"ward": {7}, "id": {"u-17"}}
	filter := abac.FilterFor(clerk, rules...)
	fmt.Println(filter)

	cases := []abac.Map{
		{"id": 1, "ward": 7, "status": "open", "owner": nil},
		{"id": 2, "ward": 7, "status": "closed", "owner": "u-17"},
		{"id": 3, "ward": 3, "status": "open", "owner": "u-99"},
		{"id": 4, "ward": nil, "status": "open", "owner": nil},
	}
	for _, c := range cases {
		fmt.Println(c["id"], filter.Match(c))
	}

	// A subject without the attributes a rule needs gets nothing from it.
	visitor := abac.FilterFor(abac.Attributes{}, rules...)
	fmt.Println(visitor, visitor.MatchesNone())
	// Output:
	// (ward = 7 and status in ('open', 'pending')) or (owner = 'u-17')
	// 1 true
	// 2 true
	// 3 false
	// 4 false
	// none true
}

func ExampleParseRule() {
	for _, text := range []string{
		"department in subject.departments AND facility IS NULL",
		"ward = 7; DROP TABLE cases",
		"status = 'open",
	} {
		r, err := abac.ParseRule(text)
		var pe *abac.ParseError
		switch {
		case errors.As(err, &pe):
			fmt.Printf("rejected at byte %d: %s\n", pe.Offset, pe.Reason)
		case err != nil:
			fmt.Println("parse:", err)
		default:
			fmt.Println("ok:", r)
		}
	}
	// Output:
	// ok: department in subject.departments and facility is null
	// rejected at byte 8: expected "and" or end of rule, found ';'
	// rejected at byte 9: unterminated string literal
}

func ExampleFilter_SQL() {
	r, err := abac.ParseRule("department in subject.departments and status != 'closed'")
	if err != nil {
		fmt.Println("parse:", err)
		return
	}
	filter := abac.FilterFor(abac.Attributes{"departments": {"roads", "parks"}}, r)

	// Column names come from this allow-list, never from the rule.
	cols := map[string]string{"department": "p.dept_code", "status": "p.status"}
	where, args, err := filter.SQL(abac.Postgres, cols)
	if err != nil {
		fmt.Println("sql:", err)
		return
	}
	fmt.Println("SELECT * FROM permits p WHERE p.year = 2025 AND " + where)
	fmt.Printf("%q\n", args)

	// A field missing from the allow-list is an error, not a wider query.
	_, _, err = filter.SQL(abac.SQLite, map[string]string{"status": "status"})
	fmt.Println(errors.Is(err, abac.ErrUnknownField), err)
	// Output:
	// SELECT * FROM permits p WHERE p.year = 2025 AND (p.dept_code IN ($1, $2) AND p.status <> $3)
	// ["roads" "parks" "closed"]
	// true abac: field "department" has no column in the allow-list
}

func ExampleFilter_AppendSQL() {
	filter := abac.FromConj(abac.Conj{{Field: "ward", Op: abac.OpEq, Values: []any{7}}})
	query := []byte("SELECT id FROM cases WHERE kind = $1 AND ")
	args := []any{"bylaw"}
	query, args, err := filter.AppendSQL(query, args, abac.Postgres, map[string]string{"ward": "ward_id"})
	if err != nil {
		fmt.Println("sql:", err)
		return
	}
	fmt.Println(string(query), args)
	// Output:
	// SELECT id FROM cases WHERE kind = $1 AND (ward_id = $2) [bylaw 7]
}

func ExampleTagged() {
	type Case struct {
		ID     int64   `abac:"id"`
		Ward   int64   `abac:"ward"`
		Owner  *string `abac:"owner"` // nil is NULL
		Secret string  // not visible to rules
	}
	var tagged abac.Tagged // one per process; it caches struct layouts

	r, err := abac.ParseRule("ward = subject.ward and owner is not null")
	if err != nil {
		fmt.Println("parse:", err)
		return
	}
	filter := abac.FilterFor(abac.Attributes{"ward": {7}}, r)
	owner := "u-17"
	for _, c := range []Case{{ID: 1, Ward: 7, Owner: &owner}, {ID: 2, Ward: 7}} {
		rec, err := tagged.Record(&c)
		if err != nil {
			fmt.Println("record:", err)
			return
		}
		fmt.Println(c.ID, filter.Match(rec))
	}
	// Output:
	// 1 true
	// 2 false
}
