package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/riverqueue/river"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/scan"
)

// External scanners (Harbor's Pluggable Scanner API): the job that has
// one adapter scan one image, and the pull tokens adapters fetch images
// with.

// scannerRobot is the account adapters' pull tokens are issued for: a
// robot with the global reader role, created on first use. A token names
// it but grants only pull of one repository, so an adapter reads nothing
// else; the robot has no password and no API token of its own.
const scannerRobot = "arca-scanner"

// scannerTokens mints adapters' pull tokens (scan.PullTokens).
type scannerTokens struct{ a *App }

func (t scannerTokens) PullToken(ctx context.Context, repository, name string) (string, error) {
	u, err := t.a.Auth.GetUser(ctx, scannerRobot)
	if errs.Is(err, errs.NotFound) {
		u, err = t.a.Auth.CreateRobot(ctx, scannerRobot, auth.Reader)
		if errs.Is(err, errs.Conflict) { // another process created it
			u, err = t.a.Auth.GetUser(ctx, scannerRobot)
		}
	}
	if err != nil {
		return "", err
	}
	// Never hand an adapter more than a reader's rights, even scoped.
	if u.Kind != auth.KindRobot || u.Role != auth.Reader || u.Disabled {
		return "", errs.E(errs.Unavailable, "the account %s is not arca's scanner robot (an enabled robot with the global reader role); fix or remove it", scannerRobot)
	}
	p := auth.Principal{UserID: u.ID, Name: u.Name, Kind: u.Kind, Role: u.Role}
	tok, _, err := t.a.Tokens.Issue(ctx, p, []auth.Access{{Type: "repository", Name: repository + "/" + name, Actions: []string{"pull"}}})
	return tok, err
}

// adapterRegistryURL is the registry base adapters pull from:
// scan.adapter_registry_url, else public_url, else this host's listener.
func adapterRegistryURL(configured, public, addr string) string {
	if u := cmp.Or(configured, public); u != "" {
		return u
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://localhost:8080"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// adapterScanArgs has one external scanner scan one image.
type adapterScanArgs struct {
	scan.Target
	Scanner string `json:"scanner"`
}

func (adapterScanArgs) Kind() string { return "scan_adapter" }

type adapterScanWorker struct {
	river.WorkerDefaults[adapterScanArgs]
	app *App
}

func (w *adapterScanWorker) Work(ctx context.Context, j *river.Job[adapterScanArgs]) error {
	rep, err := w.app.Scanner.ScanWithAdapter(ctx, j.Args.Scanner, j.Args.Target, j.Attempt)
	switch {
	case errors.Is(err, scan.ErrNotScanned), errs.Is(err, errs.NotFound):
		return river.RecordOutput(ctx, map[string]string{"skipped": err.Error()})
	case err != nil:
		return fmt.Errorf("scanner %s on %s: %w", j.Args.Scanner, j.Args.Target, err)
	}
	return river.RecordOutput(ctx, map[string]any{"report": rep.ID, "scanner": rep.Scanner, "counts": rep.Counts, "worst": rep.Worst})
}

// NextRetry backs off 2s, 4s, 8s, ... up to 10 minutes: an adapter that
// is down is asked again soon, then less often.
func (w *adapterScanWorker) NextRetry(j *river.Job[adapterScanArgs]) time.Time {
	return time.Now().Add(adapterBackoff(j.Attempt))
}

func adapterBackoff(attempt int) time.Duration {
	d := 2 * time.Second
	for i := 1; i < attempt && d < 10*time.Minute; i++ {
		d *= 2
	}
	return min(d, 10*time.Minute)
}

// Timeout leaves room for the adapter's own queue and the polling.
func (w *adapterScanWorker) Timeout(*river.Job[adapterScanArgs]) time.Duration {
	return 35 * time.Minute
}

// EnqueueAdapterScan queues a scan of t by an external scanner, unless an
// equal one is already queued.
func (j appJobs) EnqueueAdapterScan(ctx context.Context, t scan.Target, scanner string) error {
	_, err := j.Enqueue(ctx, adapterScanArgs{Target: t, Scanner: scanner},
		&river.InsertOpts{MaxAttempts: 6, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: queuedOrRunning}})
	return err
}
