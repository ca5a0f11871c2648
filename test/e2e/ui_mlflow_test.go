package e2e

// The MLflow pages of the web UI in a real headless Chromium: runs logged
// by the real mlflow client (testdata/mlflow/ui_runs.py) are browsed,
// sorted, filtered, compared and charted, with the page checks of
// ui_test.go (no error status, no console error, labelled controls,
// landmarks) on every page. With ARCA_UI_SCREENSHOTS set, the main MLflow
// pages are saved there (experiments, experiment, run, compare, models,
// model).

import (
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// chartStats is what the browser sees of the charts of a page.
type chartStats struct {
	Charts int `json:"charts"`
	// Paths is the number of drawn series (paths with points) per chart.
	Paths []int `json:"paths"`
	// Tooltips counts the <title> tooltips of hover bands and points.
	Tooltips int `json:"tooltips"`
}

const chartStatsJS = `(() => {
	const charts = Array.from(document.querySelectorAll('svg.chart'));
	return {
		charts: charts.length,
		paths: charts.map(c => Array.from(c.querySelectorAll('.chart-series path')).filter(p => /^M[\d.]+ [\d.]+/.test(p.getAttribute('d') || '')).length),
		tooltips: charts.reduce((n, c) => n + c.querySelectorAll('.chart-hover rect > title, .chart-points circle > title').length, 0),
	};
})()`

// overflowJS lists the elements that stick out of a 390 pixel wide screen,
// other than those inside a scrolling or clipping box (a table's, a code
// block's, the navigation's).
const overflowJS = `(() => {
	const inScroller = e => {
		for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
			if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX)) return true;
		}
		return false;
	};
	return Array.from(document.querySelectorAll('body *'))
		.filter(e => e.getBoundingClientRect().right > 391 && !inScroller(e))
		.map(e => e.tagName + '.' + e.className);
})()`

// runOrderJS lists the run ids of a runs table in order.
const runOrderJS = `Array.from(document.querySelectorAll('input[type=checkbox][name=runs]')).map(e => e.value)`

func TestUIMLflow(t *testing.T) {
	chromium := needChromium(t)
	py := mlflowPython(t)
	srv := StartServer(t, ServerOptions{})

	// Runs logged by the real client, as the admin.
	script, err := filepath.Abs(filepath.Join("testdata", "mlflow", "ui_runs.py"))
	if err != nil {
		t.Fatal(err)
	}
	env := mlflowEnv(srv, mlflowCreds{user: "admin", password: adminPassword}, t.TempDir())
	out := runCmd(t, mlflowTimeout, t.TempDir(), env, py, script)
	results := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "RESULT "); ok {
			k, v, _ := strings.Cut(strings.TrimSpace(rest), " ")
			results[k] = v
		}
	}
	expID, runs := results["experiment_id"], strings.Split(results["run_ids"], ",")
	if expID == "" || len(runs) != 3 {
		t.Fatalf("ui_runs.py printed no experiment or not 3 runs:\n%s", out)
	}
	expPath := "/ui/experiments/" + expID

	b := newUIBrowser(t, chromium, srv.URL)
	b.open("/ui/login?next=/ui/experiments")
	if err := chromedp.Do(b.ctx,
		chromedp.SendKeys(chromedp.ID("login-name"), "admin"),
		chromedp.SendKeys(chromedp.ID("login-password"), adminPassword),
	); err != nil {
		t.Fatal(err)
	}
	b.click("main form button[type=submit]")
	if loc := b.location(); loc != "/ui/experiments" {
		t.Fatalf("after signing in: at %s, want /ui/experiments", loc)
	}
	b.wantText("ui-e2e", "team=vision", "Default")
	b.shot("experiments")

	// The client's "View run at" link: /mlflow/ redirects to the UI, whose
	// script follows MLflow's route in the fragment to the run's page.
	b.follow("/mlflow/#/experiments/"+expID+"/runs/"+runs[0], "/ui/runs/"+runs[0])
	b.wantText("ui-run-0")
	b.follow("/mlflow/#/experiments/"+expID, expPath)
	b.open("/ui/experiments")

	// The runs table: newest first; sorting by a metric column; the
	// default columns include the metrics and params the runs logged.
	b.click(`a[href="` + expPath + `"]`)
	b.wantText("ui-run-0", "ui-run-1", "ui-run-2", "loss", "acc", "lr", "batch_size", "finished")
	if got := b.runOrder(); !slices.Equal(got, []string{runs[2], runs[1], runs[0]}) {
		t.Fatalf("runs table order %v, want newest first %v", got, runs)
	}
	b.shot("experiment")
	b.click(`th a[href*="sort=metrics.acc"]`)
	if got := b.runOrder(); !slices.Equal(got, []string{runs[0], runs[1], runs[2]}) {
		t.Fatalf("sorted by acc (descending first): %v, want %v", got, runs)
	}
	b.click(`th a[href*="sort=metrics.acc"]`) // again: ascending
	if got := b.runOrder(); !slices.Equal(got, []string{runs[2], runs[1], runs[0]}) {
		t.Fatalf("sorted by acc ascending: %v", got)
	}

	// A filter typed with the keyboard, submitted with Enter.
	b.typeAndEnter("#filter", "params.lr = '0.03' AND metrics.acc > 0.5")
	if got := b.runOrder(); !slices.Equal(got, []string{runs[1]}) {
		t.Fatalf("filtered runs %v, want only %s", got, runs[1])
	}
	// A wrong filter is explained on the page (status 400), not a 500.
	b.typeEnter("#filter", "metrics.acc >> 1")
	msg := b.text("#filter-error")
	b.mu.Lock()
	problems := b.problems
	b.problems = nil
	b.mu.Unlock()
	only400 := len(problems) > 0
	for _, p := range problems {
		only400 = only400 && strings.Contains(p, "400")
	}
	if !strings.Contains(msg, "Invalid filter") || !only400 {
		t.Fatalf("a bad filter: message %q, browser saw %v; want the message and the 400 status only", msg, problems)
	}

	// Two runs ticked and compared: one chart, a series per run.
	b.open(expPath)
	if err := chromedp.Do(b.ctx,
		chromedp.Click(chromedp.CSS(`input[name=runs][value="`+runs[0]+`"]`), chromedp.NodeVisible),
		chromedp.Click(chromedp.CSS(`input[name=runs][value="`+runs[2]+`"]`), chromedp.NodeVisible),
	); err != nil {
		t.Fatal(err)
	}
	b.click(`form[action="/ui/compare"] button[type=submit]`)
	if loc := b.location(); !strings.HasPrefix(loc, "/ui/compare?") {
		t.Fatalf("compare went to %s", loc)
	}
	b.wantText("Compare 2 runs", "ui-run-0", "ui-run-2", "lr", "0.1", "0.01")
	if c := b.charts(); c.Charts != 1 || !slices.Equal(c.Paths, []int{2}) || c.Tooltips == 0 {
		t.Fatalf("compare chart: %+v, want one chart of 2 series with tooltips", c)
	}
	b.shot("compare")

	// The run page: a chart per metric, params, the dataset, the model
	// version made from it, artifacts with a download.
	b.open("/ui/runs/" + runs[0])
	b.wantText("ui-run-0", runs[0], "lr", "0.1", "owner", "e2e", "toy-data", "training", "ui-e2e-model", "@champion", "reports/")
	if c := b.charts(); c.Charts != 2 || !slices.Equal(c.Paths, []int{1, 1}) || c.Tooltips == 0 {
		t.Fatalf("run charts: %+v, want 2 charts (acc, loss) of one series each", c)
	}
	b.shot("run")
	b.click(`.ml-files a[href*="path=reports"]`)
	b.wantText("summary.txt")
	href, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('a[href*="artifacts/file"]').getAttribute('href')`))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", srv.URL+href, nil)
	req.Header.Set("Cookie", b.cookieHeader())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "lr=0.1\n" {
		t.Fatalf("artifact download %s: %d %q", href, resp.StatusCode, body)
	}

	// Models, and from a version back to its run.
	b.open("/ui/models")
	b.wantText("ui-e2e-model", "@champion", "version 1")
	b.shot("models")
	b.click(`a[href="/ui/models/ui-e2e-model"]`)
	b.wantText("registered by the UI e2e test", "ui-run-0", "@champion")
	b.shot("model")
	b.click(`a[href="/ui/runs/` + runs[0] + `"]`)
	if loc := b.location(); loc != "/ui/runs/"+runs[0] {
		t.Fatalf("the version's run link went to %s", loc)
	}

	// At phone width nothing but tables and code sticks out.
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{expPath, "/ui/runs/" + runs[0]} {
		b.open(p)
		wide, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](overflowJS))
		if err != nil {
			t.Fatal(err)
		}
		if len(wide) > 0 {
			t.Errorf("%s at phone width: elements stick out of the screen: %v", p, wide)
		}
	}
	time.Sleep(300 * time.Millisecond) // late console messages of the last page
	b.failOnProblems("at the end")
	srv.WantNoServerErrors()
}

// runOrder returns the run ids of the runs table on the page, in order.
func (b *uiBrowser) runOrder() []string {
	b.t.Helper()
	ids, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](runOrderJS))
	if err != nil {
		b.t.Fatal(err)
	}
	return ids
}

// charts returns what the page's charts draw.
func (b *uiBrowser) charts() chartStats {
	b.t.Helper()
	c, err := chromedp.Run(b.ctx, chromedp.Evaluate[chartStats](chartStatsJS))
	if err != nil {
		b.t.Fatal(err)
	}
	return c
}

// typeAndEnter types text into the empty control css selects and presses
// Enter, which submits its form, and checks the page it leads to.
func (b *uiBrowser) typeAndEnter(css, text string) {
	b.t.Helper()
	b.typeEnter(css, text)
	b.check("submit " + css)
}

// typeEnter is typeAndEnter without the page checks.
func (b *uiBrowser) typeEnter(css, text string) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector(`+strconv.Quote(css)+`).value = ""`)); err != nil {
		b.t.Fatalf("clearing %s: %v", css, err)
	}
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil,
		chromedp.SendKeys(chromedp.CSS(css), text+kb.Enter))); err != nil {
		b.t.Fatalf("typing into %s: %v", css, err)
	}
}

// follow opens path, which the page's script sends on (location.replace),
// and waits until the browser is at want.
func (b *uiBrowser) follow(path, want string) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(b.base+path)); err != nil {
		b.t.Fatalf("open %s: %v", path, err)
	}
	loc := ""
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var ready string
		if l, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
			loc = strings.TrimPrefix(l, b.base)
		}
		if r, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.readyState")); err == nil {
			ready = r
		}
		if loc == want && ready == "complete" {
			b.check("open " + path)
			return
		}
	}
	b.t.Fatalf("open %s: the browser is at %s, want %s", path, loc, want)
}
