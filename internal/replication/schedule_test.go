package replication_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/replication"
)

// TestScheduledRun: the periodic job (once per cluster, run when a leader
// starts) enqueues a run of each policy whose schedule is due; once it
// ran, the policy is due again only after its interval.
func TestScheduledRun(t *testing.T) {
	apptest.Each(t, func(t *testing.T, local *apptest.Server) {
		remote := apptest.Start(t, "", nil)
		if resp, _ := local.Do(t, "PUT", "/raw/files/nightly/data.csv", admin, strings.NewReader("1,2,3\n")); resp.StatusCode != 201 {
			t.Fatal("put")
		}
		p := createPolicy(t, local, fmt.Sprintf(`{"name":"nightly","repository":"files","direction":"push","schedule":"1h",
			"remote":{"url":%q,"repository":"files","username":"admin","password":%q}}`, remote.URL, apptest.AdminPassword))
		createPolicy(t, local, fmt.Sprintf(`{"name":"by-hand","repository":"files","direction":"push",
			"remote":{"url":%q,"repository":"files"}}`, remote.URL))
		startJobs(t, local)
		run := waitRuns(t, local, p.ID, 1, 60*time.Second)
		if run.Cause != replication.CauseSchedule || run.State != replication.Succeeded || run.Copied != 1 {
			t.Fatalf("scheduled run = %+v", run)
		}
		if resp, got := remote.Do(t, "GET", "/raw/files/nightly/data.csv", admin, nil); resp.StatusCode != 200 || got != "1,2,3\n" {
			t.Fatalf("remote file = %d %q", resp.StatusCode, got)
		}
		ctx := context.Background()
		if due, err := local.Replication.DueSchedules(ctx, time.Now()); err != nil || len(due) != 0 {
			t.Fatalf("due right after a scheduled run = %v %v", due, err)
		}
		if due, err := local.Replication.DueSchedules(ctx, time.Now().Add(61*time.Minute)); err != nil || len(due) != 1 || due[0] != p.ID {
			t.Fatalf("due an interval later = %v %v, want [%d]", due, err, p.ID)
		}
	})
}
