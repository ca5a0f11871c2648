package replication_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/replication"
)

const admin = apptest.Admin

func decode(t testing.TB, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("decoding %q: %v", body, err)
	}
}

// startJobs runs s's job workers (apptest servers do not) until the test
// ends.
func startJobs(t testing.TB, s *apptest.Server) {
	t.Helper()
	if err := s.Jobs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Jobs.Stop(ctx)
	})
}

// createPolicy creates a policy on s from JSON and returns it.
func createPolicy(t testing.TB, s *apptest.Server, body string) replication.Policy {
	t.Helper()
	resp, out := s.Do(t, "POST", "/api/v1/replication/policies", admin, strings.NewReader(body), "Content-Type", "application/json")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("creating policy %s = %d %s", body, resp.StatusCode, out)
	}
	var p replication.Policy
	decode(t, out, &p)
	return p
}

// runNow asks for a full run of a policy.
func runNow(t testing.TB, s *apptest.Server, id int64) {
	t.Helper()
	resp, out := s.Do(t, "POST", fmt.Sprintf("/api/v1/replication/policies/%d/run", id), admin, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("run = %d %s", resp.StatusCode, out)
	}
}

// runs returns a policy's runs, newest first.
func runs(t testing.TB, s *apptest.Server, id int64) []replication.Run {
	t.Helper()
	resp, out := s.Do(t, "GET", fmt.Sprintf("/api/v1/replication/policies/%d/runs", id), admin, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("runs = %d %s", resp.StatusCode, out)
	}
	var rs []replication.Run
	decode(t, out, &rs)
	return rs
}

// runWithItems returns one run with its items.
func runWithItems(t testing.TB, s *apptest.Server, id int64) replication.Run {
	t.Helper()
	resp, out := s.Do(t, "GET", fmt.Sprintf("/api/v1/replication/runs/%d", id), admin, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("run %d = %d %s", id, resp.StatusCode, out)
	}
	var r replication.Run
	decode(t, out, &r)
	return r
}

// waitRuns waits until a policy has n finished runs and returns the
// newest.
func waitRuns(t testing.TB, s *apptest.Server, id int64, n int, within time.Duration) replication.Run {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		rs := runs(t, s, id)
		finished := 0
		for _, r := range rs {
			if r.State != replication.Running {
				finished++
			}
		}
		if finished >= n && rs[0].State != replication.Running {
			return runWithItems(t, s, rs[0].ID)
		}
		if time.Now().After(deadline) {
			t.Fatalf("policy %d: %d finished runs after %s, want %d: %+v", id, finished, within, n, rs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// eventually retries check until it returns nil or within passes.
func eventually(t testing.TB, within time.Duration, check func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := check()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("after %s: %v", within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// outcomes counts a run's items by outcome.
func outcomes(r replication.Run) map[string]int {
	m := map[string]int{}
	for _, it := range r.Items {
		m[it.Outcome]++
	}
	return m
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
