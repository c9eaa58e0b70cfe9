package main

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/civic-platform/security/iam"
)

func TestNotReady(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		h    iam.Health
		want bool
	}{
		{iam.Health{Revision: 3, LastConfirmed: now}, true},
		{iam.Health{Revision: 0, LastConfirmed: now}, false},
		{iam.Health{Revision: 3, LastConfirmed: now, Stale: true}, false},
		{iam.Health{Revision: 3}, false},
	} {
		if got := notReady(tt.h) == ""; got != tt.want {
			t.Errorf("%+v: ready %v", tt.h, got)
		}
	}
}

// BenchmarkCheckEndpoint drives POST /api/v1/authz/check on a real iamd
// over loopback with 32 client goroutines for 3 seconds and reports
// requests per second and the 99th-percentile latency.
//
//	go test -run '^$' -bench BenchmarkCheckEndpoint -benchtime 1x ./cmd/iamd
func BenchmarkCheckEndpoint(b *testing.B) {
	s := start(b, b.TempDir())
	oneTime := passwordLine.FindStringSubmatch(s.out.String())[1]
	tok := s.login(b, oneTime)
	const next = "a long and entirely new passphrase 9"
	if code, body := s.call(b, "POST", "/api/v1/users/me/password", tok, `{"current_password":"`+oneTime+`","new_password":"`+next+`"}`); code != 204 {
		b.Fatalf("password change: %d %s", code, body)
	}
	body := `{"checks":[{"subject":"user:admin","permission":"iam.user.list","scope":"org"}]}`
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	const workers = 32
	const dur = 3 * time.Second
	for b.Loop() {
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		deadline := time.Now().Add(dur)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []time.Duration
				for time.Now().Before(deadline) {
					req, _ := http.NewRequest("POST", "http://"+s.addr+"/api/v1/authz/check", strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+tok)
					t0 := time.Now()
					res, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						b.Errorf("status %d", res.StatusCode)
						return
					}
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		slices.Sort(lat)
		if len(lat) == 0 {
			b.Fatal("no requests")
		}
		b.ReportMetric(float64(len(lat))/dur.Seconds(), "req/s")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	}
}
