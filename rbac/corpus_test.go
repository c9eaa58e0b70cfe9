package rbac_test

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/civic-platform/security/internal/casbinx"
	"github.com/civic-platform/security/rbac"
)

// corpusPolicy is one policy of testdata/decisions.txt with its checks.
type corpusPolicy struct {
	name     string
	model    rbac.Model
	nocasbin string // why Casbin cannot express the policy; "" when it can
	checks   []corpusCheck
}

type corpusCheck struct {
	line  int
	sub   rbac.Subject
	perm  rbac.Permission
	scope rbac.Scope
	allow bool
	at    time.Time
}

var corpusNoon = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// readCorpus parses the corpus format described at the top of the file.
func readCorpus(t *testing.T, path string) []*corpusPolicy {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []*corpusPolicy
	var cur *corpusPolicy
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		w := strings.Fields(line)
		if len(w) == 0 {
			continue
		}
		if w[0] == "policy" {
			cur = &corpusPolicy{name: strings.Join(w[1:], " ")}
			out = append(out, cur)
			continue
		}
		if cur == nil {
			t.Fatalf("%s:%d: %q before the first policy", path, n, w[0])
		}
		if err := cur.statement(n, w, line); err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func (p *corpusPolicy) statement(n int, w []string, line string) error {
	m := &p.model
	switch {
	case w[0] == "perm" && len(w) == 2:
		m.Permissions = append(m.Permissions, rbac.Permission(w[1]))
	case w[0] == "scope" && (len(w) == 2 || len(w) == 4 && w[2] == "<"):
		node := rbac.ScopeNode{Scope: rbac.Scope(w[1])}
		if len(w) == 4 {
			node.Parent = rbac.Scope(w[3])
		}
		m.Scopes = append(m.Scopes, node)
	case w[0] == "role" && len(w) >= 2:
		m.Roles = append(m.Roles, parseRole(line))
	case w[0] == "member" && len(w) == 3:
		m.Members = append(m.Members, rbac.Membership{Member: rbac.Subject(w[1]), Group: rbac.Subject(w[2])})
	case w[0] == "grant" && len(w) >= 4:
		g := rbac.Grant{Subject: rbac.Subject(w[1]), Role: rbac.RoleID(w[2]), Scope: rbac.Scope(w[3])}
		for i := 4; i+1 < len(w); i += 2 {
			at, err := time.Parse(time.RFC3339Nano, w[i+1])
			if err != nil {
				return err
			}
			switch w[i] {
			case "from":
				g.NotBefore = at
			case "until":
				g.NotAfter = at
			default:
				return fmt.Errorf("grant: unknown %q", w[i])
			}
		}
		m.Grants = append(m.Grants, g)
	case w[0] == "quarantine" && len(w) == 2:
		m.Quarantine = append(m.Quarantine, rbac.QuarantinedRow{ID: int64(n), PType: "p", Reason: "corpus", Blocks: []rbac.Subject{rbac.Subject(w[1])}})
	case w[0] == "nocasbin" && len(w) > 1:
		p.nocasbin = strings.Join(w[1:], " ")
	case w[0] == "check" && (len(w) == 5 || len(w) == 7 && w[5] == "at") && (w[4] == "allow" || w[4] == "deny"):
		c := corpusCheck{line: n, sub: rbac.Subject(w[1]), perm: rbac.Permission(w[2]), scope: rbac.Scope(w[3]), allow: w[4] == "allow", at: corpusNoon}
		if len(w) == 7 {
			at, err := time.Parse(time.RFC3339Nano, w[6])
			if err != nil {
				return err
			}
			c.at = at
		}
		p.checks = append(p.checks, c)
	default:
		return fmt.Errorf("cannot read %q", strings.TrimSpace(line))
	}
	return nil
}

// parseRole reads "role <id> [< a,b] [composite] [emergency] [: allow... [! deny...]]".
func parseRole(line string) rbac.Role {
	head, rules, _ := strings.Cut(line, ":")
	w := strings.Fields(head)
	r := rbac.Role{ID: rbac.RoleID(w[1])}
	for i := 2; i < len(w); i++ {
		switch w[i] {
		case "<":
			for _, parent := range strings.Split(w[i+1], ",") {
				r.Inherits = append(r.Inherits, rbac.RoleID(parent))
			}
			i++
		case "composite":
			r.Composite = true
		case "emergency":
			r.Emergency = true
		}
	}
	allow, deny, _ := strings.Cut(rules, "!")
	for _, x := range strings.Fields(allow) {
		r.Permissions = append(r.Permissions, rbac.Permission(x))
	}
	for _, x := range strings.Fields(deny) {
		r.Deny = append(r.Deny, rbac.Permission(x))
	}
	return r
}

// TestDecisionsCorpus runs every case of testdata/decisions.txt against
// the compiled policy and, where Casbin can express the policy, against a
// plain Casbin enforcer over the same model (internal/casbinx's model
// text): both must give the expected decision.
func TestDecisionsCorpus(t *testing.T) {
	t.Parallel()
	policies := readCorpus(t, "testdata/decisions.txt")
	total, onCasbin := 0, 0
	for _, pc := range policies {
		p, err := rbac.Compile(pc.model)
		if err != nil {
			t.Errorf("policy %s: %v", pc.name, err)
			continue
		}
		var e interface {
			Enforce(...any) (bool, error)
		}
		if pc.nocasbin == "" {
			enf, err := casbinx.NewEnforcer(pc.model)
			if err != nil {
				t.Errorf("policy %s: casbin: %v", pc.name, err)
				continue
			}
			e = enf
		}
		for _, c := range pc.checks {
			total++
			name := fmt.Sprintf("line %d (%s): %s %s at %s at %s", c.line, pc.name, c.sub, c.perm, c.scope, c.at.Format(time.RFC3339Nano))
			q, err := p.Resolve(c.perm, c.scope)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if got := p.Decide(c.sub, q, c.at); got.Allowed != c.allow {
				t.Errorf("%s: rbac allows=%v (%v), want %v", name, got.Allowed, got.Reason, c.allow)
			}
			if e == nil {
				continue
			}
			onCasbin++
			got, err := e.Enforce(casbinx.Request(c.sub, c.perm, c.scope, c.at)...)
			if err != nil {
				t.Errorf("%s: casbin: %v", name, err)
			} else if got != c.allow {
				t.Errorf("%s: casbin allows=%v, want %v", name, got, c.allow)
			}
		}
	}
	if total < 40 {
		t.Errorf("the corpus has %d cases, want at least 40", total)
	}
	t.Logf("%d cases in %d policies, %d also run on Casbin", total, len(policies), onCasbin)
}
