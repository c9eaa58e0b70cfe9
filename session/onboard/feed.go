package onboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/civic-platform/security/iam/reports"
	"github.com/civic-platform/security/internal/csvsafe"
	"github.com/civic-platform/security/rbac"
)

// Columns are the columns of an HR feed, by their header names. Header
// names match without regard to case, spaces, hyphens or underscores
// ("Employee ID", "employee_id"), and their French names are accepted
// too (Matricule, Prénom, Nom, Courriel, Poste, Service, Gestionnaire,
// Date de début, Langue); other columns are ignored. employee_id,
// given_name, family_name, email, position and department are required.
var Columns = []string{"employee_id", "given_name", "family_name", "email", "position", "department", "manager", "start_date", "language"}

// frenchColumns are the French header names a bilingual HR system may
// export, matched as the English ones are (accents need not match).
var frenchColumns = map[string]string{
	"matricule": "employee_id", "numero d'employe": "employee_id", "prenom": "given_name", "nom": "family_name",
	"nom de famille": "family_name", "courriel": "email", "adresse courriel": "email", "poste": "position",
	"titre du poste": "position", "service": "department", "departement": "department", "gestionnaire": "manager",
	"date de debut": "start_date", "date d'entree en fonction": "start_date", "langue": "language",
}

var requiredColumns = []string{"employee_id", "given_name", "family_name", "email", "position", "department"}

// DefaultMaxFeedBytes bounds an HR feed: 16 MiB holds a city's staff many
// times over.
const DefaultMaxFeedBytes = 16 << 20

// MaxFeedErrors is how many row errors a parse or a plan reports before it
// stops looking.
const MaxFeedErrors = 100

// ErrTooLarge is wrapped when a feed is larger than its bound; it is
// reported before the rest of the feed is read.
var ErrTooLarge = csvsafe.ErrTooLarge

// Feed is a parsed HR feed: records with the line each came from.
type Feed struct {
	Records []Record
	Lines   []int
}

// FeedErrors lists the errors of a feed, each naming its line. errors.Is
// reports true for ErrInvalidInput and for the sentinel of any row's
// error (ErrUnknownPosition, ...).
type FeedErrors []error

// Error implements the error interface: one line per error.
func (fe FeedErrors) Error() string {
	parts := make([]string, len(fe))
	for i, e := range fe {
		parts[i] = e.Error()
	}
	return fmt.Sprintf("onboard: feed has %d error(s), nothing applied:\n%s", len(fe), strings.Join(parts, "\n"))
}

// Unwrap returns the errors.
func (fe FeedErrors) Unwrap() []error { return fe }

// Is makes errors.Is(err, ErrInvalidInput) true for every feed error.
func (fe FeedErrors) Is(target error) bool { return target == ErrInvalidInput }

func headerKey(s string) string {
	s, _ = positionKey(s) // lower case, accents and apostrophe forms folded
	return strings.NewReplacer(" ", "", "_", "", "-", "").Replace(s)
}

// ParseCSV reads an HR feed of at most maxBytes (<= 0:
// [DefaultMaxFeedBytes]) from r: a header line, then one employee per
// line, UTF-8 with or without a byte-order mark. Dates are YYYY-MM-DD. A
// feed larger than the bound is refused as soon as the bound is passed
// (at once if r is a file); it is never held in memory whole.
//
// Every row is validated as [Record.Normalize] does, and an employee id or
// email that appears on two lines is an error on both. The error is a
// [FeedErrors] listing up to [MaxFeedErrors] errors, each naming its line;
// a malformed CSV line stops the parse there.
func ParseCSV(r io.Reader, maxBytes int64) (Feed, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxFeedBytes
	}
	cr := csvsafe.NewReader(r, maxBytes)
	header, _, err := cr.Read()
	switch {
	case errors.Is(err, io.EOF):
		return Feed{}, FeedErrors{&RecordError{Line: 1, Field: "header", Reason: "the feed is empty"}}
	case err != nil:
		return Feed{}, csvErr(err)
	}
	col := map[string]int{}
	known := map[string]string{}
	for _, c := range Columns {
		known[headerKey(c)] = c
	}
	for fr, c := range frenchColumns {
		known[headerKey(fr)] = c
	}
	for i, h := range header {
		name, ok := known[headerKey(h)]
		if !ok {
			continue
		}
		if _, dup := col[name]; dup {
			return Feed{}, FeedErrors{&RecordError{Line: 1, Field: "header", Reason: fmt.Sprintf("column %s appears twice", name)}}
		}
		col[name] = i
	}
	var missing []string
	for _, c := range requiredColumns {
		if _, ok := col[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return Feed{}, FeedErrors{&RecordError{Line: 1, Field: "header", Reason: "missing column(s) " + strings.Join(missing, ", ")}}
	}
	var (
		feed    Feed
		errs    FeedErrors
		byID    = map[string]int{}
		byEmail = map[string]int{}
	)
	get := func(row []string, name string) string {
		if i, ok := col[name]; ok && i < len(row) {
			return row[i]
		}
		return ""
	}
	for len(errs) < MaxFeedErrors {
		row, line, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, csvErr(err))
			break
		}
		rec := Record{EmployeeID: get(row, "employee_id"), GivenName: get(row, "given_name"), FamilyName: get(row, "family_name"),
			Email: get(row, "email"), Position: get(row, "position"), Department: get(row, "department"),
			Manager: get(row, "manager"), Language: get(row, "language")}
		if d := strings.TrimSpace(get(row, "start_date")); d != "" {
			t, err := time.Parse(time.DateOnly, d)
			if err != nil || len(d) != len(time.DateOnly) {
				errs = append(errs, &RecordError{Line: line, EmployeeID: safeID(rec.EmployeeID), Field: "start date", Reason: "want YYYY-MM-DD"})
				continue
			}
			rec.StartDate = t
		}
		n, err := rec.Normalize()
		if err != nil {
			var re *RecordError
			if errors.As(err, &re) {
				re.Line = line
			}
			errs = append(errs, err)
			continue
		}
		key := UserID(n.EmployeeID)
		if prev, dup := byID[key]; dup {
			errs = append(errs, &RecordError{Line: line, EmployeeID: n.EmployeeID, Field: "employee id", Reason: fmt.Sprintf("also on line %d", prev)})
			continue
		}
		if prev, dup := byEmail[n.Email]; dup {
			errs = append(errs, &RecordError{Line: line, EmployeeID: n.EmployeeID, Field: "email", Reason: fmt.Sprintf("also on line %d", prev)})
			continue
		}
		byID[key], byEmail[n.Email] = line, line
		feed.Records = append(feed.Records, n)
		feed.Lines = append(feed.Lines, line)
	}
	if len(errs) > 0 {
		return Feed{}, errs
	}
	return feed, nil
}

// csvErr turns a reader error into a feed error naming the line.
func csvErr(err error) error {
	if errors.Is(err, csvsafe.ErrTooLarge) || errors.Is(err, csvsafe.ErrEncoding) {
		return fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	return &RecordError{Line: csvsafe.Line(err), Field: "csv", Reason: csvsafe.Reason(err)}
}

// Change is one employee's entry in a [Diff].
type Change struct {
	Line       int          `json:"line,omitempty"`
	EmployeeID string       `json:"employee_id"`
	User       string       `json:"user"`
	Kind       Kind         `json:"kind"`
	Position   string       `json:"position,omitempty"`
	Department string       `json:"department,omitempty"`
	Assign     []rbac.Grant `json:"assign,omitempty"`
	Revoke     []rbac.Grant `json:"revoke,omitempty"`
}

// Diff is what a feed would change: joiners, movers, updates and
// leavers, and the errors that stop it from being applied.
type Diff struct {
	// V is the schema version of the JSON form (reports.SchemaVersion).
	V int `json:"v"`
	// Header says what the diff evidences (reports.KindHRFeed) and the
	// policy revision it was planned against; GeneratedBy is left for
	// the caller to set.
	Header    reports.Header `json:"header"`
	Joiners   []Change       `json:"joiners"`
	Movers    []Change       `json:"movers"`
	Updated   []Change       `json:"updated"`
	Unchanged int            `json:"unchanged"`
	// Leavers are employees onboarding granted roles to who are not in a
	// full feed; empty unless the plan was asked for leavers.
	Leavers []Change `json:"leavers"`
	// Errors stop the feed: with any, ApplyFeed applies nothing.
	Errors []string `json:"errors,omitempty"`

	steps  []step
	change rbac.Change
}

// WriteJSON writes the diff as JSON.
func (d Diff) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// WriteText writes the diff for a person to read.
func (d Diff) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "joiners %d, movers %d, updated %d, leavers %d, unchanged %d, errors %d\n",
		len(d.Joiners), len(d.Movers), len(d.Updated), len(d.Leavers), d.Unchanged, len(d.Errors))
	for _, group := range []struct {
		sign string
		cs   []Change
	}{{"+", d.Joiners}, {"~", d.Movers}, {"=", d.Updated}, {"-", d.Leavers}} {
		for _, c := range group.cs {
			fmt.Fprintf(&b, "%s %s %s (%s)", group.sign, c.Kind, c.EmployeeID, c.User)
			if c.Line > 0 {
				fmt.Fprintf(&b, " line %d", c.Line)
			}
			b.WriteString("\n")
			for _, g := range c.Revoke {
				fmt.Fprintf(&b, "    revoke %s at %s\n", g.Role, g.Scope)
			}
			for _, g := range c.Assign {
				fmt.Fprintf(&b, "    assign %s at %s", g.Role, g.Scope)
				if !g.NotBefore.IsZero() {
					fmt.Fprintf(&b, " from %s", g.NotBefore.Format(time.DateOnly))
				}
				b.WriteString("\n")
			}
		}
	}
	for _, e := range d.Errors {
		fmt.Fprintf(&b, "! %s\n", e)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// PlanOptions says how to read a feed.
type PlanOptions struct {
	// Full says the feed lists every current employee: those onboarding
	// granted roles to who are missing from it are leavers. A partial
	// (delta) feed has no leavers.
	Full bool
}

// Plan compares feed with the accounts and the policy and returns what
// applying it would do, writing nothing. Every row is checked as Onboard
// checks one record, and the whole feed's policy change is checked at
// once, so a segregation-of-duties conflict between two rows, or between a
// row and what someone already holds, is an error. Errors are in
// Diff.Errors, and the error returned is a [FeedErrors] when there are any.
func (s *Service) Plan(ctx context.Context, feed Feed, opts PlanOptions) (Diff, error) {
	m, rev, err := s.src.LoadPolicy(ctx)
	if err != nil {
		return Diff{}, fmt.Errorf("onboard: read policy: %w", err)
	}
	d := Diff{V: reports.SchemaVersion, Header: reports.NewHeader(reports.KindHRFeed, rev, s.now(), time.Time{}, time.Time{})}
	var errs FeedErrors
	present := map[string]bool{}
	for i, rec := range feed.Records {
		line := 0
		if i < len(feed.Lines) {
			line = feed.Lines[i]
		}
		if len(errs) >= MaxFeedErrors {
			break
		}
		st, err := s.plan(ctx, m, rec, line)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		present[st.rec.EmployeeID] = true
		ch := Change{Line: line, EmployeeID: st.rec.EmployeeID, User: st.user.ID, Kind: st.kind, Position: st.rec.Position,
			Department: st.rec.Department, Assign: st.grant, Revoke: st.revoke}
		switch st.kind {
		case Joiner:
			d.Joiners = append(d.Joiners, ch)
		case Mover:
			d.Movers = append(d.Movers, ch)
		case Updated:
			d.Updated = append(d.Updated, ch)
		default:
			d.Unchanged++
			continue
		}
		d.steps = append(d.steps, st)
		c := st.change()
		d.change.ExpectGrants = append(d.change.ExpectGrants, c.ExpectGrants...)
		d.change.Revoke = append(d.change.Revoke, c.Revoke...)
		d.change.Grant = append(d.change.Grant, c.Grant...)
		for _, r := range c.PutRoles {
			if !slices.ContainsFunc(d.change.PutRoles, func(x rbac.Role) bool { return x.ID == r.ID }) {
				d.change.PutRoles = append(d.change.PutRoles, r)
			}
		}
	}
	if opts.Full {
		d.Leavers = leavers(m, present)
	}
	if len(errs) == 0 && !d.change.IsZero() {
		c := d.change
		c.At = s.now()
		if _, _, err := rbac.Update(m, c); err != nil {
			errs = append(errs, fmt.Errorf("onboard: the feed's change as a whole: %w", err))
		}
	}
	for _, e := range errs {
		d.Errors = append(d.Errors, e.Error())
	}
	if len(errs) > 0 {
		return d, errs
	}
	return d, nil
}

// leavers lists the employees with position grants who are not present.
func leavers(m rbac.Model, present map[string]bool) []Change {
	byEmp := map[string]*Change{}
	var order []string
	for _, g := range m.Grants {
		rest, ok := strings.CutPrefix(g.Reason, ReasonPrefix)
		if !ok || g.Subject.Kind() != rbac.User {
			continue
		}
		emp, _, _ := strings.Cut(rest, " ")
		if present[emp] || checkEmployeeID(emp) != "" || UserID(emp) != strings.TrimPrefix(string(g.Subject), "user:") {
			continue
		}
		c, ok := byEmp[emp]
		if !ok {
			c = &Change{EmployeeID: emp, User: UserID(emp), Kind: "leaver"}
			byEmp[emp] = c
			order = append(order, emp)
		}
		c.Revoke = append(c.Revoke, g)
	}
	slices.Sort(order)
	out := make([]Change, 0, len(order))
	for _, e := range order {
		out = append(out, *byEmp[e])
	}
	return out
}

// FeedResult is what [Service.ApplyFeed] did.
type FeedResult struct {
	Diff Diff
	// Revision is the policy revision of the feed's one change (0 if
	// none).
	Revision int64
	// Offboarded are the leavers' reports.
	Offboarded []OffboardReport
	// Welcomes counts the welcome messages sent.
	Welcomes int
}

// ApplyFeed plans feed and, only if no row has an error, applies it:
// every joiner's and mover's grants are written in ONE policy change, then
// the accounts are created or updated and the welcome messages sent; then
// each leaver is offboarded. With any
// error nothing is written and the error is a [FeedErrors]. A failure
// after the change (a welcome message, a leaver) is returned joined, with
// the result so far; applying the same feed again completes it.
func (s *Service) ApplyFeed(ctx context.Context, feed Feed, opts PlanOptions) (FeedResult, error) {
	d, err := s.Plan(ctx, feed, opts)
	if err != nil {
		return FeedResult{Diff: d}, err
	}
	res := FeedResult{Diff: d}
	if !d.change.IsZero() {
		rev, err := s.w.Apply(ctx, d.change)
		if err != nil {
			return res, fmt.Errorf("onboard: feed: %w", err)
		}
		res.Revision = rev
	}
	var late []error
	for _, st := range d.steps {
		var err error
		if st.existing {
			err = s.users.UpdateUser(ctx, st.user)
		} else {
			err = s.users.CreateUser(ctx, st.user)
		}
		if err != nil {
			late = append(late, s.userErr(st.rec, err))
			continue
		}
		u := st.user
		if got, err := s.users.User(ctx, u.ID); err == nil {
			u = got
		}
		s.announce(ctx, st, Result{Kind: st.kind, User: u, Assigned: st.grant, Revoked: st.revoke, Revision: res.Revision})
		if st.kind == Joiner {
			msg, err := s.welcome(ctx, st.rec, u)
			if err != nil {
				late = append(late, err)
			} else if msg != nil {
				res.Welcomes++
			}
		}
	}
	for _, l := range d.Leavers {
		rep, err := s.Offboard(ctx, l.EmployeeID, "not in the HR feed")
		res.Offboarded = append(res.Offboarded, rep)
		if err != nil {
			late = append(late, err)
		}
	}
	return res, errors.Join(late...)
}
