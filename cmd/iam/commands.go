package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/civic-platform/security/adapters/smtpmail"
	"github.com/civic-platform/security/iam"
	"github.com/civic-platform/security/iam/reports"
	"github.com/civic-platform/security/internal/casbinx"
	"github.com/civic-platform/security/internal/csvsafe"
	"github.com/civic-platform/security/rbac"
	"github.com/civic-platform/security/rbac/templates"
	"github.com/civic-platform/security/session/apikey"
	"github.com/civic-platform/security/session/onboard"
)

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "iam",
		Short: "Administer and audit civic-platform access: checks, roles, emergency access, onboarding, API keys, reports",
		Long: "iam administers and audits a civic-platform store (the embedded SQLite file or PostgreSQL).\n\n" +
			"Exit codes: 0 ok or allowed; 1 denied or violations found; 2 usage or any other error.",
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			switch a.format {
			case "table", "csv", "json":
			default:
				return usageError{fmt.Errorf("--format %q: want table, csv or json", a.format)}
			}
			switch a.lang {
			case "en", "fr":
			default:
				return usageError{fmt.Errorf("--lang %q: want en or fr", a.lang)}
			}
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.dbFlag, "db", "", "the store: a SQLite file path or a postgres:// URL (default $IAM_DB)")
	pf.StringVar(&a.actor, "actor", "", "who makes changes and asks for reports, e.g. user:jdoe (default $IAM_ACTOR)")
	pf.StringVarP(&a.format, "format", "o", "table", "output: table, csv or json")
	pf.StringVar(&a.lang, "lang", "en", "language of labels and report headers where they exist: en or fr")
	root.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"table", "csv", "json"}, cobra.ShellCompDirectiveNoFileComp))
	root.RegisterFlagCompletionFunc("lang", cobra.FixedCompletions([]string{"en", "fr"}, cobra.ShellCompDirectiveNoFileComp))
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(a.initCmd(), a.checkCmd(false), a.checkCmd(true), a.whoCanCmd(), a.assignCmd(), a.revokeCmd(),
		a.emergencyCmd(), a.rolesCmd(), a.templatesCmd(), a.exportCmd(), a.importCmd(),
		a.onboardCmd(), a.offboardCmd(), a.hrImportCmd(), a.keysCmd(), a.reportCmd())
	return root
}

// args wraps cobra's argument checks as usage errors.
func args(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := cobra.ExactArgs(n)(cmd, a); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func (a *app) initCmd() *cobra.Command {
	return &cobra.Command{
		Use: "init", Short: "Create the tables of a new store (idempotent)", Args: args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := a.open(cmd.Context(), true); err != nil {
				return err
			}
			fmt.Fprintln(a.out, "store ready")
			return nil
		},
	}
}

// request parses and validates subject, permission and scope.
func request(sub, perm, scope string) (rbac.Subject, rbac.Permission, rbac.Scope, error) {
	s, p, sc := rbac.Subject(sub), rbac.Permission(perm), rbac.Scope(scope)
	for _, err := range []error{s.Validate(), p.Validate(), sc.Validate()} {
		if err != nil {
			return "", "", "", usageError{err}
		}
	}
	return s, p, sc, nil
}

func (a *app) checkCmd(explain bool) *cobra.Command {
	use, short := "check SUBJECT PERMISSION SCOPE", "Is SUBJECT allowed PERMISSION at SCOPE? Exit 0 allowed, 1 denied"
	if explain {
		use, short = "explain SUBJECT PERMISSION SCOPE", "Why SUBJECT is allowed or denied PERMISSION at SCOPE: the deciding path"
	}
	return &cobra.Command{
		Use: use, Short: short, Args: args(3),
		Example: "  iam check user:jtremblay bylaw.case.read dept:bylaw",
		RunE: func(cmd *cobra.Command, args []string) error {
			sub, perm, scope, err := request(args[0], args[1], args[2])
			if err != nil {
				return err
			}
			st, err := a.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			ex, err := st.authz.Explain(cmd.Context(), sub, perm, scope)
			if err != nil {
				return err
			}
			verdict := "denied"
			if ex.Allowed {
				verdict = "allowed"
			}
			if a.format == "json" {
				doc := map[string]any{"subject": sub, "permission": perm, "scope": scope, "allowed": ex.Allowed, "reason": ex.Reason, "revision": ex.Revision}
				if explain {
					doc["path"] = ex.Decisive.String()
					var others []string
					for _, o := range ex.Others {
						others = append(others, o.String())
					}
					doc["other_paths"] = others
				}
				if err := writeJSON(a.out, doc); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(a.out, "%s: %s\n", verdict, ex.Reason)
				if explain {
					if len(ex.Decisive) > 0 {
						fmt.Fprintf(a.out, "path: %s\n", ex.Decisive)
					}
					for _, o := range ex.Others {
						fmt.Fprintf(a.out, "also: %s\n", o)
					}
				}
			}
			if !ex.Allowed {
				return errNo
			}
			return nil
		},
	}
}

func (a *app) whoCanCmd() *cobra.Command {
	return &cobra.Command{
		Use: "who-can PERMISSION SCOPE", Short: "Which roles hold PERMISSION, and who may use it at SCOPE now, with paths", Args: args(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, perm, scope, err := request("user:x", args[0], args[1])
			if err != nil {
				return err
			}
			st, err := a.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			acc, err := st.authz.WhoCan(cmd.Context(), perm, scope)
			if err != nil {
				return err
			}
			rows := [][]string{{"kind", "name", "path"}}
			for _, r := range acc.Roles {
				kind := "role"
				if r.Denied {
					kind = "role (denies)"
				}
				rows = append(rows, []string{kind, string(r.Role), r.Path.String()})
			}
			for _, h := range acc.Subjects {
				rows = append(rows, []string{"subject", string(h.Subject), h.Path.String()})
			}
			return a.table(rows, acc)
		},
	}
}

func (a *app) assignCmd() *cobra.Command {
	var from, until, reason string
	c := &cobra.Command{
		Use: "assign SUBJECT ROLE SCOPE", Short: "Grant ROLE to SUBJECT at SCOPE (refused if it breaks a segregation-of-duties rule)", Args: args(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			g := rbac.Grant{Subject: rbac.Subject(args[0]), Role: rbac.RoleID(args[1]), Scope: rbac.Scope(args[2]), Reason: reason}
			if err := validGrant(g); err != nil {
				return err
			}
			var err error
			if g.NotBefore, err = parseTime("--from", from); err != nil {
				return err
			}
			if g.NotAfter, err = parseTime("--until", until); err != nil {
				return err
			}
			st, err := a.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			rev, err := st.admin.Assign(a.ctxActor(cmd.Context()), g)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "assigned %s to %s at %s (revision %d)\n", g.Role, g.Subject, g.Scope, rev)
			return nil
		},
	}
	c.Flags().StringVar(&from, "from", "", "start (RFC 3339 or YYYY-MM-DD); default now")
	c.Flags().StringVar(&until, "until", "", "end (RFC 3339 or YYYY-MM-DD); default open")
	c.Flags().StringVar(&reason, "reason", "", "why, for reviewers")
	return c
}

func validGrant(g rbac.Grant) error {
	for _, err := range []error{g.Subject.Validate(), g.Role.Validate(), g.Scope.Validate()} {
		if err != nil {
			return usageError{err}
		}
	}
	return nil
}

func parseTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usageError{fmt.Errorf("%s %q: want RFC 3339 or YYYY-MM-DD", flag, s)}
}

func (a *app) revokeCmd() *cobra.Command {
	var reason string
	c := &cobra.Command{
		Use: "revoke SUBJECT ROLE SCOPE", Short: "Remove the grant of ROLE to SUBJECT at SCOPE", Args: args(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			g := rbac.Grant{Subject: rbac.Subject(args[0]), Role: rbac.RoleID(args[1]), Scope: rbac.Scope(args[2])}
			if err := validGrant(g); err != nil {
				return err
			}
			st, err := a.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			rev, err := st.admin.Revoke(a.ctxActor(cmd.Context()), g.Key(), reason)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "revoked %s from %s at %s (revision %d)\n", g.Role, g.Subject, g.Scope, rev)
			return nil
		},
	}
	c.Flags().StringVar(&reason, "reason", "", "why, for reviewers")
	return c
}

func (a *app) emergencyCmd() *cobra.Command {
	em := &cobra.Command{Use: "emergency", Short: "Break-glass access: activate, end, review"}
	var window time.Duration
	var reason, events, subject string
	act := &cobra.Command{
		Use: "activate SUBJECT ROLE SCOPE", Short: "Grant an emergency role for a window (at most 24h)", Args: args(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			g := rbac.Grant{Subject: rbac.Subject(args[0]), Role: rbac.RoleID(args[1]), Scope: rbac.Scope(args[2])}
			if err := validGrant(g); err != nil {
				return err
			}
			st, err := a.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			ac, err := st.admin.ActivateEmergency(a.ctxActor(cmd.Context()), g.Subject, g.Role, g.Scope, window, reason)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "emergency access %s for %s at %s until %s (activation %s)\n", ac.Role, ac.Subject, ac.Scope, ac.Until.Format(time.RFC3339), ac.ID)
			return nil
		},
	}
	act.Flags().DurationVar(&window, "window", 4*time.Hour, "how long the access lasts (at most 24h)")
	act.Flags().StringVar(&reason, "reason", "", "the incident (required)")
	end := &cobra.Command{
		Use: "end SUBJECT ROLE SCOPE", Short: "End emergency access now", Args: args(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			g := rbac.Grant{Subject: rbac.Subject(args[0]), Role: rbac.RoleID(args[1]), Scope: rbac.Scope(args[2])}
			if err := validGrant(g); err != nil {
				return err
			}
			st, err := a.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			rev, err := st.admin.EndEmergency(a.ctxActor(cmd.Context()), g.Subject, g.Role, g.Scope, reason)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "emergency access ended (revision %d)\n", rev)
			return nil
		},
	}
	end.Flags().StringVar(&reason, "reason", "", "why it ends")
	review := &cobra.Command{
		Use: "review", Short: "Post-incident review of every emergency activation in the event stream", Args: args(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.emergencyReview(cmd.Context(), events, subject) },
	}
	review.Flags().StringVar(&events, "events", "", "a file of JSON events (one per line) exported from the audit sink, read with the store's outbox")
	review.Flags().StringVar(&subject, "subject", "", "only activations of this subject")
	em.AddCommand(act, end, review)
	return em
}

// activations returns the activations the events record.
func activations(es []iam.Event, subject string) []iam.Activation {
	var out []iam.Activation
	for _, e := range es {
		if e.Type != iam.EventEmergencyActivated || (subject != "" && string(e.Subject) != subject) {
			continue
		}
		from, _ := time.Parse(time.RFC3339Nano, e.Detail["valid_from"])
		until, _ := time.Parse(time.RFC3339Nano, e.Detail["valid_until"])
		out = append(out, iam.Activation{ID: e.ID, Subject: e.Subject, Role: rbac.RoleID(e.Detail["role"]), Scope: rbac.Scope(e.Detail["scope"]),
			From: from, Until: until, Reason: e.Detail["reason"], Revision: e.Revision})
	}
	return out
}

func (a *app) emergencyReview(ctx context.Context, file, subject string) error {
	st, err := a.open(ctx, false)
	if err != nil {
		return err
	}
	es, err := a.events(ctx, st, file)
	if err != nil {
		return err
	}
	var docs []reports.Review
	for _, act := range activations(es, subject) {
		rv := reports.EmergencyReview(es, act)
		rv.Header.GeneratedAt, rv.Header.GeneratedBy = time.Now().UTC(), a.by()
		docs = append(docs, rv)
	}
	switch a.format {
	case "json":
		var all []json.RawMessage
		for _, rv := range docs {
			var b bytes.Buffer
			if err := rv.WriteJSON(&b); err != nil {
				return err
			}
			all = append(all, b.Bytes())
		}
		if all == nil {
			all = []json.RawMessage{}
		}
		return writeJSON(a.out, all)
	default:
		if len(docs) == 0 {
			fmt.Fprintln(a.out, "no emergency activations in the event stream")
			return nil
		}
		for _, rv := range docs {
			var b bytes.Buffer
			if err := rv.WriteCSV(&b); err != nil {
				return err
			}
			if err := a.emit(b.Bytes()); err != nil {
				return err
			}
		}
		return nil
	}
}

func (a *app) by() string {
	if a.actor != "" {
		return a.actor
	}
	if s := a.getenv("IAM_ACTOR"); s != "" {
		return s
	}
	return a.getenv("USER")
}

func (a *app) rolesCmd() *cobra.Command {
	return &cobra.Command{
		Use: "roles", Short: "List the policy's roles with their labels", Args: args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			m, _, err := st.policy.LoadPolicy(cmd.Context())
			if err != nil {
				return err
			}
			rows := [][]string{{"role", "label", "inherits", "permissions", "deny", "flags"}}
			for _, r := range m.Roles {
				var flags []string
				if r.Composite {
					flags = append(flags, "composite")
				}
				if r.Emergency {
					flags = append(flags, "emergency")
				}
				rows = append(rows, []string{string(r.ID), label(r.Labels, a.lang), joinIDs(r.Inherits), joinPerms(r.Permissions), joinPerms(r.Deny), strings.Join(flags, " ")})
			}
			return a.table(rows, rows)
		},
	}
}

func label(ls map[string]string, lang string) string {
	if l := ls[lang]; l != "" {
		return l
	}
	return ls["en"]
}

func joinIDs(ids []rbac.RoleID) string {
	s := make([]string, len(ids))
	for i, x := range ids {
		s[i] = string(x)
	}
	return strings.Join(s, " ")
}

func joinPerms(ps []rbac.Permission) string {
	s := make([]string, len(ps))
	for i, x := range ps {
		s[i] = string(x)
	}
	return strings.Join(s, " ")
}

func (a *app) templatesCmd() *cobra.Command {
	var as string
	t := &cobra.Command{
		Use: "templates", Short: "List the shipped role templates for municipal positions", Args: args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, err := templates.Default()
			if err != nil {
				return err
			}
			rows := [][]string{{"template", "label", "description", "permissions"}}
			for _, id := range set.IDs() {
				tp, _ := set.Template(id)
				rows = append(rows, []string{string(id), label(tp.Labels, a.lang), tp.Description, joinPerms(tp.Permissions)})
			}
			return a.table(rows, rows)
		},
	}
	apply := &cobra.Command{
		Use: "apply TEMPLATE", Short: "Create (or replace) a role from a template", Args: args(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := templates.Default()
			if err != nil {
				return err
			}
			id := rbac.RoleID(as)
			if id == "" {
				id = rbac.RoleID(args[0])
			}
			r, err := set.Instantiate(rbac.RoleID(args[0]), id)
			if err != nil {
				return usageError{err}
			}
			st, err := a.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			rev, err := st.admin.Apply(a.ctxActor(cmd.Context()), rbac.Change{PutRoles: []rbac.Role{r}, AddPermissions: set.Permissions()})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "role %s from template %s (revision %d)\n", id, args[0], rev)
			return nil
		},
	}
	apply.Flags().StringVar(&as, "as", "", "the new role's id (default: the template's)")
	t.AddCommand(apply)
	return t
}

func (a *app) exportCmd() *cobra.Command {
	return &cobra.Command{
		Use: "export", Short: "Write the policy as Casbin policy lines (CSV)", Args: args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			m, _, err := st.policy.LoadPolicy(cmd.Context())
			if err != nil {
				return err
			}
			lines, err := casbinx.Lines(m)
			if err != nil {
				return err
			}
			rows := make([][]string, len(lines))
			for i, l := range lines {
				rows[i] = append([]string{l.PType}, l.Values...)
			}
			return csvsafe.Write(a.out, rows)
		},
	}
}

// maxPolicyFile bounds an imported policy file.
const maxPolicyFile = 64 << 20

func (a *app) importCmd() *cobra.Command {
	var dry bool
	c := &cobra.Command{
		Use: "import FILE", Short: "Make the policy's roles, grants and memberships those of a Casbin policy file, in one change", Args: args(1),
		Long: "import reads Casbin policy lines (as export writes them; '-' for standard input) and applies the difference\n" +
			"with the stored policy as one change, checked against the segregation-of-duties rules. Conflict rules,\n" +
			"waivers, role labels and the reasons of unchanged grants are kept.",
		RunE: func(cmd *cobra.Command, args []string) error {
			in, closeIn, err := a.input(args[0])
			if err != nil {
				return err
			}
			defer closeIn()
			r := csvsafe.NewReader(in, maxPolicyFile).Lines()
			var lines []casbinx.Line
			for {
				rec, line, err := r.Read()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					return usageError{fmt.Errorf("%s: line %d: %s", args[0], csvsafe.Line(err), csvsafe.Reason(err))}
				}
				if len(rec) < 2 {
					return usageError{fmt.Errorf("%s: line %d: not a policy line", args[0], line)}
				}
				lines = append(lines, casbinx.Line{PType: strings.TrimSpace(rec[0]), Values: trimAll(rec[1:])})
			}
			next, err := casbinx.FromLines(lines)
			if err != nil {
				return usageError{fmt.Errorf("%s: %w", args[0], err)}
			}
			st, err := a.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			cur, _, err := st.policy.LoadPolicy(cmd.Context())
			if err != nil {
				return err
			}
			c := diffModels(cur, next)
			fmt.Fprintf(a.out, "roles: %d put, %d deleted; grants: %d added, %d revoked; memberships: %d joined, %d left\n",
				len(c.PutRoles), len(c.DeleteRoles), len(c.Grant), len(c.Revoke), len(c.Join), len(c.Leave))
			if c.IsZero() {
				fmt.Fprintln(a.out, "nothing to change")
				return nil
			}
			if dry {
				c.At = time.Now()
				if _, _, err := rbac.Update(cur, c); err != nil {
					return err
				}
				fmt.Fprintln(a.out, "dry run: nothing written")
				return nil
			}
			rev, err := st.admin.Apply(a.ctxActor(cmd.Context()), c)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "imported (revision %d)\n", rev)
			return nil
		},
	}
	c.Flags().BoolVar(&dry, "dry-run", false, "show the difference and check it, write nothing")
	return c
}

func trimAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = strings.TrimSpace(x)
	}
	return out
}

// diffModels is the change that turns cur's roles, grants, memberships,
// scopes and permissions into next's, keeping cur's labels, reasons and
// conflict rules.
func diffModels(cur, next rbac.Model) rbac.Change {
	var c rbac.Change
	for _, r := range next.Roles {
		i := slices.IndexFunc(cur.Roles, func(x rbac.Role) bool { return x.ID == r.ID })
		if i >= 0 {
			old := cur.Roles[i]
			r.Labels = old.Labels
			if slices.Equal(old.Permissions, r.Permissions) && slices.Equal(old.Deny, r.Deny) && slices.Equal(old.Inherits, r.Inherits) &&
				old.Composite == r.Composite && old.Emergency == r.Emergency {
				continue
			}
		}
		c.PutRoles = append(c.PutRoles, r)
	}
	for _, r := range cur.Roles {
		if !slices.ContainsFunc(next.Roles, func(x rbac.Role) bool { return x.ID == r.ID }) {
			c.DeleteRoles = append(c.DeleteRoles, r.ID)
		}
	}
	same := func(a, b rbac.Grant) bool {
		return a.Key() == b.Key() && a.NotBefore.Equal(b.NotBefore) && a.NotAfter.Equal(b.NotAfter)
	}
	for _, g := range cur.Grants {
		if !slices.ContainsFunc(next.Grants, func(x rbac.Grant) bool { return same(x, g) }) {
			c.ExpectGrants = append(c.ExpectGrants, g)
			c.Revoke = append(c.Revoke, g.Key())
		}
	}
	for _, g := range next.Grants {
		if !slices.ContainsFunc(cur.Grants, func(x rbac.Grant) bool { return same(x, g) }) {
			c.Grant = append(c.Grant, g)
		}
	}
	for _, ms := range cur.Members {
		if !slices.Contains(next.Members, ms) {
			c.Leave = append(c.Leave, ms)
		}
	}
	for _, ms := range next.Members {
		if !slices.Contains(cur.Members, ms) {
			c.Join = append(c.Join, ms)
		}
	}
	for _, s := range next.Scopes {
		if !slices.Contains(cur.Scopes, s) {
			c.PutScopes = append(c.PutScopes, s)
		}
	}
	for _, x := range next.Permissions {
		if !slices.Contains(cur.Permissions, x) {
			c.AddPermissions = append(c.AddPermissions, x)
		}
	}
	return c
}

// input opens a file, or standard input for "-".
func (a *app) input(name string) (io.Reader, func(), error) {
	if name == "-" {
		return a.stdin, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// onboarding returns an onboarding service over the store. Welcome
// messages are sent when IAM_SMTP_ADDR and IAM_SMTP_FROM are set, telling
// people to sign in at IAM_SSO_URL.
func (a *app) onboarding(st *stores, withKeys bool) (*onboard.Service, error) {
	opts := []onboard.Option{}
	if addr, from := a.getenv("IAM_SMTP_ADDR"), a.getenv("IAM_SMTP_FROM"); addr != "" && from != "" {
		m, err := smtpmail.New(addr, onboard.Address{Name: a.getenv("IAM_ORGANISATION"), Email: from})
		if err != nil {
			return nil, usageError{err}
		}
		sso := a.getenv("IAM_SSO_URL")
		if sso == "" {
			return nil, usageError{errors.New("set IAM_SSO_URL: welcome messages say where to sign in")}
		}
		opts = append(opts, onboard.WithMailer(m), onboard.WithSSO(sso))
	}
	if org := a.getenv("IAM_ORGANISATION"); org != "" {
		opts = append(opts, onboard.WithOrganisation(org))
	}
	if withKeys {
		sm, err := a.sessions(st)
		if err != nil {
			return nil, err
		}
		km, err := a.keyManager(st, false)
		if err != nil {
			return nil, err
		}
		opts = append(opts, onboard.WithSessions(sm), onboard.WithKeys(km))
	}
	return onboard.New(st.users, st.policy, st.admin, opts...)
}

func (a *app) onboardCmd() *cobra.Command {
	var rec onboard.Record
	var start string
	var dry bool
	c := &cobra.Command{
		Use: "onboard", Short: "Create or update an employee from their HR record: account, position roles at dept:<department>, welcome", Args: args(0),
		Example: "  iam onboard --employee-id E1042 --given-name Julie --family-name Tremblay --email julie.tremblay@city.ca \\\n" +
			"      --position 'Bylaw Officer' --department bylaw --start-date 2026-12-01 --language fr",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if start != "" {
				t, err := time.Parse(time.DateOnly, start)
				if err != nil {
					return usageError{fmt.Errorf("--start-date %q: want YYYY-MM-DD", start)}
				}
				rec.StartDate = t
			}
			st, err := a.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			svc, err := a.onboarding(st, false)
			if err != nil {
				return err
			}
			ctx := a.ctxActor(cmd.Context())
			if dry {
				d, err := svc.Plan(ctx, onboard.Feed{Records: []onboard.Record{rec}}, onboard.PlanOptions{})
				if err != nil {
					return err
				}
				return a.diff(d)
			}
			res, err := svc.Onboard(ctx, rec)
			if err != nil && !errors.Is(err, onboard.ErrMail) {
				return err
			}
			fmt.Fprintf(a.out, "%s: user %s", res.Kind, res.User.ID)
			for _, g := range res.Revoked {
				fmt.Fprintf(a.out, ", revoked %s at %s", g.Role, g.Scope)
			}
			for _, g := range res.Assigned {
				fmt.Fprintf(a.out, ", assigned %s at %s", g.Role, g.Scope)
			}
			if res.Welcome != nil {
				fmt.Fprintf(a.out, ", welcome sent to %s", res.Welcome.To.Email)
			}
			fmt.Fprintln(a.out)
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&rec.EmployeeID, "employee-id", "", "HR employee id (required)")
	f.StringVar(&rec.GivenName, "given-name", "", "given name (required)")
	f.StringVar(&rec.FamilyName, "family-name", "", "family name (required)")
	f.StringVar(&rec.Email, "email", "", "work email (required)")
	f.StringVar(&rec.Position, "position", "", "position title in English or French (required)")
	f.StringVar(&rec.Department, "department", "", "department id: roles are granted at dept:<id> (required)")
	f.StringVar(&rec.Manager, "manager", "", "manager's employee id")
	f.StringVar(&start, "start-date", "", "first day, YYYY-MM-DD (default now)")
	f.StringVar(&rec.Language, "language", "en", "preferred language: en or fr")
	f.BoolVar(&dry, "dry-run", false, "show what would change, write nothing")
	return c
}

func (a *app) offboardCmd() *cobra.Command {
	var reason string
	c := &cobra.Command{
		Use: "offboard EMPLOYEE_ID", Short: "Disable the employee, revoke every grant, end every session, revoke personal API keys", Args: args(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			svc, err := a.onboarding(st, true)
			if err != nil {
				return err
			}
			rep, err := svc.Offboard(a.ctxActor(cmd.Context()), args[0], reason)
			if errors.Is(err, onboard.ErrInvalidInput) {
				return usageError{err}
			}
			if rep.User.ID != "" {
				rep.Header.GeneratedBy = a.by()
				if a.format == "json" {
					if jerr := writeJSON(a.out, rep); jerr != nil {
						return jerr
					}
				} else {
					fmt.Fprintf(a.out, "offboarded %s (%s): %d grants, %d memberships, %d sessions, %d personal keys revoked; accounts disabled [%s], flagged for a new owner [%s]\n",
						rep.User.EmployeeID, rep.User.ID, len(rep.Grants), len(rep.Memberships), rep.Sessions, len(rep.RevokedKeys),
						strings.Join(rep.DisabledAccounts, " "), strings.Join(rep.FlaggedAccounts, " "))
					for _, g := range rep.Grants {
						fmt.Fprintf(a.out, "  revoked %s at %s\n", g.Role, g.Scope)
					}
				}
			}
			return err
		},
	}
	c.Flags().StringVar(&reason, "reason", "offboarded", "why, recorded on revocations")
	return c
}

func (a *app) hrImportCmd() *cobra.Command {
	var dry, full bool
	var maxBytes int64
	c := &cobra.Command{
		Use: "hr-import FILE", Short: "Apply an HRIS CSV export: joiners, movers and (with --full) leavers; nothing if any row fails", Args: args(1),
		Long: "hr-import reads a CSV export ('-' for standard input) with the columns " + strings.Join(onboard.Columns, ", ") + ".\n" +
			"With --dry-run it shows the difference and writes nothing. Rows with errors are listed with their line\n" +
			"numbers and exit 1; then nothing is applied.",
		RunE: func(cmd *cobra.Command, args []string) error {
			in, closeIn, err := a.input(args[0])
			if err != nil {
				return err
			}
			defer closeIn()
			feed, err := onboard.ParseCSV(in, maxBytes)
			if err != nil {
				fmt.Fprintln(a.out, err)
				return errNo
			}
			st, err := a.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			svc, err := a.onboarding(st, full)
			if err != nil {
				return err
			}
			ctx := a.ctxActor(cmd.Context())
			if dry {
				d, err := svc.Plan(ctx, feed, onboard.PlanOptions{Full: full})
				if perr := a.diff(d); perr != nil {
					return perr
				}
				if err != nil {
					var fe onboard.FeedErrors
					if errors.As(err, &fe) {
						return errNo
					}
					return err
				}
				return nil
			}
			res, err := svc.ApplyFeed(ctx, feed, onboard.PlanOptions{Full: full})
			if perr := a.diff(res.Diff); perr != nil {
				return perr
			}
			var fe onboard.FeedErrors
			if errors.As(err, &fe) {
				return errNo
			}
			if err == nil {
				fmt.Fprintf(a.out, "applied (revision %d), %d welcome messages, %d offboarded\n", res.Revision, res.Welcomes, len(res.Offboarded))
			}
			return err
		},
	}
	c.Flags().BoolVar(&dry, "dry-run", false, "show joiners, movers and leavers, write nothing")
	c.Flags().BoolVar(&full, "full", false, "the file lists every employee: those missing from it are leavers")
	c.Flags().Int64Var(&maxBytes, "max-bytes", onboard.DefaultMaxFeedBytes, "refuse a larger file")
	return c
}

func (a *app) diff(d onboard.Diff) error {
	d.Header.GeneratedBy = a.by()
	if a.format == "json" {
		return d.WriteJSON(a.out)
	}
	return d.WriteText(a.out)
}

func (a *app) keysCmd() *cobra.Command {
	k := &cobra.Command{Use: "keys", Short: "API keys: list, rotate, governance report"}
	list := &cobra.Command{
		Use: "list [ACCOUNT]", Short: "List API keys (of one service account, or all)", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			m, err := a.keyManager(st, false)
			if err != nil {
				return err
			}
			acct := ""
			if len(args) == 1 {
				acct = args[0]
			}
			keys, err := m.Keys(cmd.Context(), acct)
			if err != nil {
				return err
			}
			now := time.Now()
			rows := [][]string{{"key", "account", "name", "state", "created", "expires", "last_used"}}
			for _, x := range keys {
				rows = append(rows, []string{x.ID, x.Account, x.Name, string(x.StateAt(now)), stamp(x.Created), stamp(x.Expires), stamp(x.LastUsed)})
			}
			return a.table(rows, rows)
		},
	}
	var overlap time.Duration
	rotate := &cobra.Command{
		Use: "rotate KEY_ID", Short: "Issue a replacement key; the old one works until the overlap ends", Args: args(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := a.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			m, err := a.keyManager(st, true)
			if err != nil {
				return err
			}
			c, err := m.Rotate(a.ctxActor(cmd.Context()), args[0], overlap)
			if err != nil {
				if errors.Is(err, apikey.ErrInvalidInput) {
					return usageError{err}
				}
				return err
			}
			fmt.Fprintf(a.out, "new key %s (shown once):\n%s\n", c.Key.ID, c.Secret)
			return nil
		},
	}
	rotate.Flags().DurationVar(&overlap, "overlap", 7*24*time.Hour, "how long the old key keeps working")
	report := &cobra.Command{
		Use: "report", Short: "Governance report: rotation deadlines, unused keys, what each key may do", Args: args(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.apiKeyReport(cmd.Context()) },
	}
	k.AddCommand(list, rotate, report)
	return k
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func (a *app) apiKeyReport(ctx context.Context) error {
	st, err := a.open(ctx, false)
	if err != nil {
		return err
	}
	m, err := a.keyManager(st, false)
	if err != nil {
		return err
	}
	r, err := m.Report(ctx, apikey.ReportOptions{Language: a.lang})
	if err != nil {
		return err
	}
	if a.format == "json" {
		return r.WriteJSON(a.out)
	}
	var b bytes.Buffer
	if err := r.WriteCSV(&b); err != nil {
		return err
	}
	return a.emit(b.Bytes())
}

func (a *app) reportCmd() *cobra.Command {
	rep := &cobra.Command{Use: "report", Short: "Auditor's reports with the controls they evidence: sod, certification, emergency, api-keys, pii-access"}
	sod := &cobra.Command{
		Use: "sod", Short: "Segregation-of-duties compliance; exit 1 if any violation is open", Args: args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := a.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			r, err := reports.Compliance(st.authz.View())
			if err != nil {
				return err
			}
			r.Header.GeneratedBy = a.by()
			if err := a.write(r.WriteJSON, r.WriteCSV); err != nil {
				return err
			}
			if r.Open() > 0 {
				return errNo
			}
			return nil
		},
	}
	cert := &cobra.Command{
		Use: "certification DEPARTMENT", Short: "Access certification of a department (dept:<id>) for its manager", Args: args(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			scope := rbac.Scope(args[0])
			if !strings.Contains(args[0], ":") {
				scope = rbac.Scope("dept:" + args[0])
			}
			if err := scope.Validate(); err != nil {
				return usageError{err}
			}
			st, err := a.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			v := st.authz.View()
			r, err := reports.Certification(v, scope)
			if err != nil {
				if errors.Is(err, rbac.ErrInvalidInput) {
					return usageError{err}
				}
				return err
			}
			r.Header.GeneratedBy = a.by()
			if a.lang == "fr" {
				for i := range r.Rows {
					if ro, ok := v.Policy().Role(r.Rows[i].Role); ok && ro.Labels["fr"] != "" {
						r.Rows[i].Label = ro.Labels["fr"]
					}
				}
			}
			return a.write(r.WriteJSON, r.WriteCSV)
		},
	}
	var events, subject string
	em := &cobra.Command{
		Use: "emergency", Short: "Post-incident review of emergency activations", Args: args(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.emergencyReview(cmd.Context(), events, subject) },
	}
	em.Flags().StringVar(&events, "events", "", "a file of JSON events (one per line) exported from the audit sink")
	em.Flags().StringVar(&subject, "subject", "", "only activations of this subject")
	keys := &cobra.Command{
		Use: "api-keys", Short: "API-key governance report", Args: args(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.apiKeyReport(cmd.Context()) },
	}
	var piiEvents, from, to string
	var perms []string
	pii := &cobra.Command{
		Use: "pii-access", Short: "Privacy Officer's review: who holds each PII field permission, through which path, and views per role and field", Args: args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := reports.PIIOptions{}
			var err error
			if o.From, err = parseTime("--from", from); err != nil {
				return err
			}
			if o.To, err = parseTime("--to", to); err != nil {
				return err
			}
			for _, p := range perms {
				x := rbac.Permission(p)
				if err := x.Validate(); err != nil {
					return usageError{err}
				}
				o.Permissions = append(o.Permissions, x)
			}
			st, err := a.open(cmd.Context(), false)
			if err != nil {
				return err
			}
			es, err := a.events(cmd.Context(), st, piiEvents)
			if err != nil {
				return err
			}
			r, err := reports.PIIAccess(st.authz.View(), es, o)
			if err != nil {
				if errors.Is(err, rbac.ErrInvalidInput) {
					return usageError{err}
				}
				return err
			}
			r.Header.GeneratedBy = a.by()
			return a.write(r.WriteJSON, func(w io.Writer) error { return r.WriteCSV(w, a.lang) })
		},
	}
	pii.Flags().StringVar(&piiEvents, "events", "", "a file of JSON events (one per line) with the pii.viewed events")
	pii.Flags().StringVar(&from, "from", "", "count views from (RFC 3339 or YYYY-MM-DD)")
	pii.Flags().StringVar(&to, "to", "", "count views until (default now)")
	pii.Flags().StringSliceVar(&perms, "permission", nil, "the PII permissions to review (default: every field-level .view permission)")
	rep.AddCommand(sod, cert, em, keys, pii)
	return rep
}

// write writes a report as JSON, CSV, or a table made from its CSV.
func (a *app) write(js, cs func(io.Writer) error) error {
	switch a.format {
	case "json":
		return js(a.out)
	default:
		var b bytes.Buffer
		if err := cs(&b); err != nil {
			return err
		}
		return a.emit(b.Bytes())
	}
}

// emit writes CSV as it is (--format csv) or as an aligned table.
func (a *app) emit(csvText []byte) error {
	if a.format == "csv" {
		_, err := a.out.Write(csvText)
		return err
	}
	r := csvsafe.NewReader(bytes.NewReader(csvText), 0).Lines()
	var rows [][]string
	for {
		rec, _, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		rows = append(rows, rec)
	}
	return a.tabulate(rows)
}

// table writes rows (the first is the header) as a table or CSV, or v as
// JSON.
func (a *app) table(rows [][]string, v any) error {
	switch a.format {
	case "json":
		return writeJSON(a.out, v)
	case "csv":
		return csvsafe.Write(a.out, rows)
	}
	return a.tabulate(rows)
}

func (a *app) tabulate(rows [][]string) error {
	tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		clean := make([]string, len(r))
		for i, c := range r {
			clean[i] = strings.Map(func(r rune) rune {
				if r < 0x20 || r == 0x7f {
					return ' '
				}
				return r
			}, c)
		}
		fmt.Fprintln(tw, strings.Join(clean, "\t"))
	}
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
