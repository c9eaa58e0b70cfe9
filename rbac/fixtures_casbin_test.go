package rbac_test

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/civic-platform/security/internal/casbinx"
	"github.com/civic-platform/security/internal/fixtures"
	"github.com/civic-platform/security/rbac"
)

// cityCasbinCase is one request of the differential test with both answers.
type cityCasbinCase struct {
	req    fixtures.Request
	rbac   rbac.Result
	casbin bool
}

// TestCityMatchesCasbin checks the compiled policy against a plain Casbin
// enforcer, the reference semantics, on the synthetic city (10,000 users,
// 300 roles, hierarchies 8 deep) with 100,000 requests, and requires that
// they never disagree.
//
// A Casbin Enforce over the full policy evaluates the matcher on every p
// line (tens of thousands here, about 70 ms a check), so most requests are
// checked differently:
//
//   - (a) a sample of 200 requests goes to an enforcer over the full policy,
//     exactly as casbinx.NewEnforcer builds it;
//   - (b) all requests, grouped by subject, go to an enforcer that holds every
//     g, g2 and g3 line but only the p lines (assignments) whose subject is
//     the requester or one of its groups or units. That is sound because the
//     model's matcher starts with (p.sub == r.sub || g(r.sub, p.sub)): any
//     other p line cannot match, so it can neither allow nor deny, and
//     dropping it does not change the effect. (a) cross-checks the
//     restriction on its sample: the full and the restricted enforcer must
//     give the same answer there.
//
// Under -short and -race the counts shrink, and the log says so.
func TestCityMatchesCasbin(t *testing.T) {
	t.Parallel()
	n, sample := 100_000, 200
	switch {
	case fixtures.RaceEnabled:
		n, sample = 3_000, 10
		t.Logf("race detector on: %d requests, %d against the full enforcer", n, sample)
	case testing.Short():
		n, sample = 20_000, 100
		t.Logf("-short: %d requests, %d against the full enforcer", n, sample)
	}
	start := time.Now()
	m := fixtures.City(fixtures.Config{Seed: 1, Users: 10_000})
	p, err := rbac.Compile(m)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	lines, err := casbinx.Lines(m)
	if err != nil {
		t.Fatalf("Lines: %v", err)
	}
	reqs := fixtures.Requests(m, 2, n)

	// The engine's answers, by both of its paths.
	cases := make([]cityCasbinCase, len(reqs))
	allowed := 0
	for i, r := range reqs {
		q, err := p.Resolve(r.Permission, r.Scope)
		if err != nil {
			t.Fatalf("Resolve(%s, %s): %v", r.Permission, r.Scope, err)
		}
		res := p.Decide(r.Subject, q, r.At)
		if res.Allowed != p.Allows(r.Subject, r.Permission, r.Scope, r.At) {
			t.Errorf("%s: Allows disagrees with Resolve+Decide", describe(r))
		}
		cases[i] = cityCasbinCase{req: r, rbac: res}
		if res.Allowed {
			allowed++
		}
	}
	frac := float64(allowed) / float64(len(reqs))
	if frac < 0.2 || frac > 0.8 {
		t.Errorf("%.1f%% of requests allowed, want 20%%..80%% for a meaningful mix", 100*frac)
	}
	setup := time.Since(start)

	// (b) Every request against per-subject enforcers.
	start = time.Now()
	var pLines, gLines []casbinx.Line
	for _, l := range lines {
		if l.PType == "p" {
			pLines = append(pLines, l)
		} else {
			gLines = append(gLines, l)
		}
	}
	bySubject := map[string][][]string{}
	for _, l := range pLines {
		bySubject[l.Values[0]] = append(bySubject[l.Values[0]], l.Values)
	}
	containers := map[rbac.Subject][]rbac.Subject{}
	for _, ms := range m.Members {
		containers[ms.Member] = append(containers[ms.Member], ms.Group)
	}
	groups := map[rbac.Subject][]int{}
	var subjects []rbac.Subject
	for i, c := range cases {
		if _, ok := groups[c.req.Subject]; !ok {
			subjects = append(subjects, c.req.Subject)
		}
		groups[c.req.Subject] = append(groups[c.req.Subject], i)
	}
	slices.Sort(subjects)
	workers := min(runtime.GOMAXPROCS(0), 4)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One enforcer per worker: mutating a Casbin policy is not safe
			// for concurrent use.
			e, err := casbinx.NewEnforcerFromLines(gLines)
			if err != nil {
				errs <- err
				return
			}
			var held [][]string
			for si := w; si < len(subjects); si += workers {
				sub := subjects[si]
				want := slices.Clone(bySubject[string(sub)])
				for _, c := range containers[sub] {
					want = append(want, bySubject[string(c)]...)
				}
				if len(held) > 0 {
					if ok, err := e.RemovePolicies(held); err != nil || !ok {
						errs <- fmt.Errorf("RemovePolicies for %s: %v, %v", sub, ok, err)
						return
					}
				}
				if len(want) > 0 {
					if ok, err := e.AddPolicies(want); err != nil || !ok {
						errs <- fmt.Errorf("AddPolicies for %s: %v, %v", sub, ok, err)
						return
					}
				}
				held = want
				for _, i := range groups[sub] {
					r := cases[i].req
					got, err := casbinx.Enforce(e, r.Subject, r.Permission, r.Scope, r.At)
					if err != nil {
						errs <- fmt.Errorf("%s: %v", describe(r), err)
						return
					}
					cases[i].casbin = got // each worker owns its subjects' cases
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("casbin: %v", err)
	}
	perSubject := time.Since(start)

	var bad []int
	for i, c := range cases {
		if c.rbac.Allowed != c.casbin {
			bad = append(bad, i)
		}
	}
	for _, i := range bad[:min(len(bad), 8)] {
		c := cases[i]
		ex, err := p.Explain(c.req.Subject, c.req.Permission, c.req.Scope, c.req.At)
		t.Errorf("disagreement: %s: rbac %v (%v), casbin %v\n%v %v", describe(c.req), c.rbac.Allowed, c.rbac.Reason, c.casbin, ex, err)
	}

	// (a) A sample against the full enforcer, which also checks that
	// restricting p lines by subject in (b) changed nothing.
	start = time.Now()
	stride := max(1, len(cases)/sample)
	var idx []int
	for i := 0; i < len(cases) && len(idx) < sample; i += stride {
		idx = append(idx, i)
	}
	fullAns := make([]bool, len(idx))
	errs = make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One enforcer per worker (building one takes about 0.1 s), so
			// that the workers share nothing. Each full Enforce evaluates
			// the matcher on all ~33,000 p lines: about 0.1 s of CPU.
			full, err := casbinx.NewEnforcerFromLines(lines)
			if err != nil {
				errs <- err
				return
			}
			for k := w; k < len(idx); k += workers {
				r := cases[idx[k]].req
				got, err := casbinx.Enforce(full, r.Subject, r.Permission, r.Scope, r.At)
				if err != nil {
					errs <- fmt.Errorf("%s: %v", describe(r), err)
					return
				}
				fullAns[k] = got
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("full enforcer: %v", err)
	}
	fullBad := 0
	for k, i := range idx {
		c := cases[i]
		if fullAns[k] != c.casbin {
			t.Errorf("harness: full enforcer says %v, per-subject enforcer %v for %s", fullAns[k], c.casbin, describe(c.req))
		}
		if fullAns[k] != c.rbac.Allowed {
			fullBad++
			if fullBad <= 8 {
				t.Errorf("disagreement (full enforcer): %s: rbac %v (%v), casbin %v", describe(c.req), c.rbac.Allowed, c.rbac.Reason, fullAns[k])
			}
		}
	}
	fullTime := time.Since(start)

	t.Logf("%d requests over %d subjects, %.1f%% allowed; per-subject Casbin: %d disagreements in %v (%d workers); "+
		"full Casbin (%d p lines): %d of %d sampled disagree, %v (%v a check per worker); setup %v",
		len(cases), len(subjects), 100*frac, len(bad), perSubject.Round(time.Millisecond), workers,
		len(pLines), fullBad, len(idx), fullTime.Round(time.Millisecond),
		(fullTime * time.Duration(workers) / time.Duration(max(1, len(idx)))).Round(time.Microsecond), setup.Round(time.Millisecond))
	if len(bad) > 0 {
		t.Errorf("%d of %d requests: rbac and Casbin disagree", len(bad), len(cases))
	}
}

func describe(r fixtures.Request) string {
	return fmt.Sprintf("%s %s at %s at %s (%d)", r.Subject, r.Permission, r.Scope, r.At.Format(time.RFC3339Nano), r.At.UnixNano())
}
