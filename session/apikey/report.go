package apikey

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/civic-platform/security/internal/csvsafe"
	"github.com/civic-platform/security/rbac"
)

// Report defaults.
const (
	DefaultRotationPeriod = 90 * 24 * time.Hour
	DefaultDueWithin      = 14 * 24 * time.Hour
	DefaultUnusedAfter    = 60 * 24 * time.Hour
	// DefaultNearDeadline is how close to its overlap deadline a retiring
	// key's use is flagged.
	DefaultNearDeadline = 48 * time.Hour
)

// ReportOptions sets the thresholds of a governance report; zero fields
// take the defaults.
type ReportOptions struct {
	// RotationPeriod is how long a key may live before it must be rotated
	// (default 90 days).
	RotationPeriod time.Duration
	// DueWithin flags keys whose rotation is due within it (default 14
	// days).
	DueWithin time.Duration
	// UnusedAfter flags keys not used for this long (default 60 days).
	UnusedAfter time.Duration
	// NearDeadline flags a retiring key still used this close to its
	// overlap deadline (default 48 hours).
	NearDeadline time.Duration
	// Language of the CSV column headers: "en" (default) or "fr". Values
	// and the JSON field names are the same in both.
	Language string
}

func (o ReportOptions) withDefaults() ReportOptions {
	if o.RotationPeriod <= 0 {
		o.RotationPeriod = DefaultRotationPeriod
	}
	if o.DueWithin <= 0 {
		o.DueWithin = DefaultDueWithin
	}
	if o.UnusedAfter <= 0 {
		o.UnusedAfter = DefaultUnusedAfter
	}
	if o.NearDeadline <= 0 {
		o.NearDeadline = DefaultNearDeadline
	}
	return o
}

// Rotation status of a key in a report.
const (
	RotationOK      = "ok"
	RotationDue     = "due"
	RotationOverdue = "overdue"
	RotationNA      = "n/a" // not in use: retiring, retired, revoked or expired
)

// Overlap states of a key in a report.
const (
	OverlapNone = "none"
	// OverlapRetiring: rotated, still valid until its deadline.
	OverlapRetiring = "retiring"
	// OverlapReplacement: issued by a rotation whose old key is still
	// valid.
	OverlapReplacement = "replacement"
)

// ReportRow is one key in a governance report.
type ReportRow struct {
	Key         string    `json:"key"`
	Name        string    `json:"name"`
	Account     string    `json:"account"`
	Owner       string    `json:"owner"`
	Department  string    `json:"department"`
	AccountOK   bool      `json:"account_active"`
	State       State     `json:"state"`
	Created     time.Time `json:"created"`
	LastRotated time.Time `json:"last_rotated,omitzero"`
	AgeDays     int       `json:"age_days"`
	RotationDue time.Time `json:"rotation_due"`
	Rotation    string    `json:"rotation"`
	LastUsed    time.Time `json:"last_used,omitzero"`
	Unused      bool      `json:"unused"`
	Overlap     string    `json:"overlap"`
	// OverlapDeadline is when a retiring key stops working.
	OverlapDeadline time.Time `json:"overlap_deadline,omitzero"`
	// ReplacementAdopted: the key that replaced this retiring one (or this
	// replacement itself) has been used.
	ReplacementAdopted bool `json:"replacement_adopted"`
	// OldUsedNearDeadline: this retiring key was used within NearDeadline
	// of its deadline, or is still used while the deadline is that close.
	OldUsedNearDeadline bool `json:"old_used_near_deadline"`
	// Narrowed: the key carries a narrowing.
	Narrowed bool `json:"narrowed"`
	// May is what the key may do now: "permission@scope", from the live
	// policy intersected with the key's narrowing.
	May []string `json:"may"`
}

// Summary is the report's counts and the controls it evidences.
type Summary struct {
	ActiveKeys   int      `json:"active_keys"`
	Accounts     int      `json:"accounts"`
	DueSoon      int      `json:"due_soon"`
	Overdue      int      `json:"overdue"`
	Unused       int      `json:"unused"`
	Retiring     int      `json:"retiring"`
	NotAdopted   int      `json:"retiring_not_adopted"`
	NearDeadline int      `json:"old_used_near_deadline"`
	Controls     []string `json:"controls"`
}

// Controls are the controls a governance report evidences.
var Controls = []string{
	"SOC 2 CC6.1 (logical access: credentials of non-human accounts inventoried, hashed, least privilege by narrowing)",
	"SOC 2 CC6.2 (access provisioned and removed: creation, rotation, revocation and disabling are recorded events)",
	"NIST CSF 2.0 PR.AA-01 (identities and credentials for devices and services are managed)",
	"NIST CSF 2.0 PR.AA-05 (access permissions are defined, managed and reviewed: each key's effective permissions)",
	"ISO/IEC 27001:2022 A.5.17 (authentication information: rotation deadlines and unused credentials)",
	"ISO/IEC 27001:2022 A.5.18 (access rights: provisioned, reviewed and removed)",
}

// Report is a governance report: every key with its account, rotation
// and use, and what it may do.
type Report struct {
	At      time.Time      `json:"at"`
	Options ReportOptions  `json:"-"`
	Summary Summary        `json:"summary"`
	Rows    []ReportRow    `json:"keys"`
	Limits  map[string]int `json:"thresholds_days"`
}

// Report builds the governance report at the Manager's clock. It flushes
// last uses first, so the report sees this process's recent uses.
func (m *Manager) Report(ctx context.Context, ro ReportOptions) (Report, error) {
	ro = ro.withDefaults()
	if ro.Language != "" && ro.Language != "en" && ro.Language != "fr" {
		return Report{}, fmt.Errorf("%w: report language %q (en or fr)", ErrInvalidInput, ro.Language)
	}
	if !m.closed.Load() {
		if err := m.Flush(ctx); err != nil {
			return Report{}, fmt.Errorf("apikey: report: flush last uses: %w", err)
		}
	}
	accts, err := m.store.Accounts(ctx)
	if err != nil {
		return Report{}, err
	}
	keys, err := m.store.Keys(ctx, "")
	if err != nil {
		return Report{}, err
	}
	now := m.o.now()
	byID := map[string]Account{}
	for _, a := range accts {
		byID[a.ID] = a
	}
	keyByID := map[string]Key{}
	for _, k := range keys {
		keyByID[k.ID] = k
	}
	r := Report{At: now.UTC(), Options: ro, Rows: []ReportRow{}, Limits: map[string]int{
		"rotation_period": days(ro.RotationPeriod), "due_within": days(ro.DueWithin),
		"unused_after": days(ro.UnusedAfter)}}
	r.Summary.Accounts = len(accts)
	r.Summary.Controls = slices.Clone(Controls)
	mayCache := map[string][]string{}
	for _, k := range keys {
		a := byID[k.Account]
		st := k.StateAt(now)
		row := ReportRow{Key: k.ID, Name: k.Name, Account: k.Account, Owner: string(a.Owner), Department: a.Department,
			AccountOK: a.Status == AccountActive, State: st, Created: k.Created.UTC(),
			AgeDays: days(now.Sub(k.Created)), RotationDue: k.Created.Add(ro.RotationPeriod).UTC(),
			LastUsed: k.LastUsed.UTC(), Narrowed: !k.Narrowing.IsZero(), Overlap: OverlapNone, Rotation: RotationNA}
		if k.LastUsed.IsZero() {
			row.LastUsed = time.Time{}
		}
		if k.RotatedFrom != "" {
			row.LastRotated = k.Created.UTC()
		}
		live := st == StateActive || st == StateRetiring
		if st == StateActive {
			switch {
			case !now.Before(row.RotationDue):
				row.Rotation = RotationOverdue
				r.Summary.Overdue++
			case row.RotationDue.Sub(now) <= ro.DueWithin:
				row.Rotation = RotationDue
				r.Summary.DueSoon++
			default:
				row.Rotation = RotationOK
			}
			if last := latest(k.LastUsed, k.Created); now.Sub(last) >= ro.UnusedAfter {
				row.Unused = true
				r.Summary.Unused++
			}
		}
		if live && a.Status == AccountActive {
			r.Summary.ActiveKeys++
		}
		switch {
		case st == StateRetiring:
			row.Overlap = OverlapRetiring
			row.OverlapDeadline = k.Retires.UTC()
			r.Summary.Retiring++
			if next, ok := keyByID[k.ReplacedBy]; ok && !next.LastUsed.IsZero() {
				row.ReplacementAdopted = true
			} else {
				r.Summary.NotAdopted++
			}
			if !k.LastUsed.IsZero() && k.Retires.Sub(k.LastUsed) <= ro.NearDeadline && k.Retires.Sub(now) <= ro.NearDeadline {
				row.OldUsedNearDeadline = true
				r.Summary.NearDeadline++
			}
		case k.RotatedFrom != "" && keyByID[k.RotatedFrom].StateAt(now) == StateRetiring:
			row.Overlap = OverlapReplacement
			row.ReplacementAdopted = !k.LastUsed.IsZero()
		}
		if live && a.Status == AccountActive {
			row.May, err = m.may(ctx, a.Subject(), k.Narrowing, mayCache)
			if err != nil {
				return Report{}, fmt.Errorf("apikey: report: effective permissions of %s: %w", k.ID, err)
			}
		}
		if row.May == nil {
			row.May = []string{}
		}
		r.Rows = append(r.Rows, row)
	}
	return r, nil
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func days(d time.Duration) int { return int(d / (24 * time.Hour)) }

// may returns what sub may do through a key with narrowing n:
// permission@scope for each scope the account holds grants at (or the
// narrowing's scopes) and each permission held there that the narrowing
// allows.
func (m *Manager) may(ctx context.Context, sub rbac.Subject, n Narrowing, cache map[string][]string) ([]string, error) {
	var out []string
	scopes, err := m.accountScopes(ctx, sub)
	if err != nil {
		return nil, err
	}
	if len(n.Scopes) > 0 && !slices.Contains(n.Scopes, rbac.OrgScope) {
		scopes = n.Scopes
	}
	for _, s := range scopes {
		ck := string(sub) + "\x00" + string(s)
		ps, ok := cache[ck]
		if !ok {
			held, err := m.policy.Permissions(ctx, sub, s)
			if err != nil {
				return nil, err
			}
			for _, p := range held {
				ps = append(ps, string(p))
			}
			cache[ck] = ps
		}
		for _, p := range ps {
			if n.allows(rbac.Permission(p), s) {
				out = append(out, p+"@"+string(s))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// WriteJSON writes the report as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// CSVHeader is the header row of the CSV report.
var CSVHeader = []string{"key", "name", "account", "owner", "department", "account_active", "state",
	"created", "last_rotated", "age_days", "rotation_due", "rotation", "last_used", "unused",
	"overlap", "overlap_deadline", "replacement_adopted", "old_used_near_deadline", "narrowed", "may"}

// CSVHeaderFR is the header row of the CSV report in French.
var CSVHeaderFR = []string{"clé", "nom", "compte", "responsable", "service", "compte_actif", "état",
	"créée", "dernière_rotation", "âge_jours", "rotation_due", "rotation", "dernière_utilisation", "inutilisée",
	"chevauchement", "fin_chevauchement", "remplaçante_adoptée", "ancienne_utilisée_près_échéance", "restreinte", "peut"}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// WriteCSV writes the report as CSV through internal/csvsafe (no cell can
// be read as a formula): a header, one row per key, then the summary as
// "summary,<name>,<value>" rows and the controls as "control,<text>".
func (r Report) WriteCSV(w io.Writer) error {
	header := CSVHeader
	if r.Options.Language == "fr" {
		header = CSVHeaderFR
	}
	rows := [][]string{header}
	for _, x := range r.Rows {
		rows = append(rows, []string{x.Key, x.Name, x.Account, x.Owner, x.Department, strconv.FormatBool(x.AccountOK),
			string(x.State), fmtTime(x.Created), fmtTime(x.LastRotated), strconv.Itoa(x.AgeDays), fmtTime(x.RotationDue),
			x.Rotation, fmtTime(x.LastUsed), strconv.FormatBool(x.Unused), x.Overlap, fmtTime(x.OverlapDeadline),
			strconv.FormatBool(x.ReplacementAdopted), strconv.FormatBool(x.OldUsedNearDeadline),
			strconv.FormatBool(x.Narrowed), strings.Join(x.May, " ")})
	}
	s := r.Summary
	for _, kv := range []struct {
		k string
		v int
	}{{"active_keys", s.ActiveKeys}, {"accounts", s.Accounts}, {"due_soon", s.DueSoon}, {"overdue", s.Overdue},
		{"unused", s.Unused}, {"retiring", s.Retiring}, {"retiring_not_adopted", s.NotAdopted},
		{"old_used_near_deadline", s.NearDeadline}} {
		rows = append(rows, []string{"summary", kv.k, strconv.Itoa(kv.v)})
	}
	for _, c := range s.Controls {
		rows = append(rows, []string{"control", c})
	}
	return csvsafe.Write(w, rows)
}
