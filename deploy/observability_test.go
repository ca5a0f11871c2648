package deploy_test

// The Grafana dashboards (deploy/grafana) and the Prometheus alert rules
// (deploy/prometheus) are tested like code: every PromQL expression parses
// (Prometheus's own parser), every metric they name is one a running arca
// exports after some traffic, and promtool checks the rules and runs their
// unit tests (alerts_test.yaml).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// notArcas are metrics the files may read that arca does not export:
// Prometheus makes them itself.
var notArcas = map[string]string{"up": "Prometheus's scrape health"}

// grafanaVars replaces Grafana's template variables with what they stand
// for at query time, so that the expression parses as PromQL.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h",
	"$instance", ".*", "$surface", ".*")

// dashboardExprs returns every query of every dashboard, by file and panel.
func dashboardExprs(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("grafana/*.json")
	if err != nil || len(files) < 4 {
		t.Fatalf("want the four dashboards in deploy/grafana, found %v (%v)", files, err)
	}
	exprs := map[string]string{}
	uids := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			UID    string `json:"uid"`
			Title  string `json:"title"`
			Panels []struct {
				Title   string `json:"title"`
				Type    string `json:"type"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
			Templating struct {
				List []struct {
					Name  string `json:"name"`
					Query any    `json:"query"`
				} `json:"list"`
			} `json:"templating"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
			t.Errorf("%s: uid %q, title %q, %d panels", f, d.UID, d.Title, len(d.Panels))
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s share the uid %q", f, other, d.UID)
		}
		uids[d.UID] = f
		for _, p := range d.Panels {
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", f, p.Title)
			}
			for i, tg := range p.Targets {
				exprs[fmt.Sprintf("%s: %q #%d", f, p.Title, i)] = tg.Expr
			}
		}
		// label_values(metric, label) variables name metrics too.
		for _, v := range d.Templating.List {
			q, _ := v.Query.(map[string]any)
			if s, _ := q["query"].(string); strings.HasPrefix(s, "label_values(") {
				metric, _, _ := strings.Cut(strings.TrimPrefix(s, "label_values("), ",")
				exprs[fmt.Sprintf("%s: variable %s", f, v.Name)] = strings.TrimSpace(metric)
			}
		}
	}
	return exprs
}

// ruleExprs returns the alert rules' expressions (promtool check rules,
// in TestPromtoolRules, validates the rest of the file).
func ruleExprs(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert string `json:"alert"`
				Expr  string `json:"expr"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("prometheus/alerts.yaml: %v", err)
	}
	exprs := map[string]string{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("prometheus/alerts.yaml: group %s has a rule without alert or expr", g.Name)
			}
			exprs["alert "+r.Alert] = r.Expr
		}
	}
	if len(exprs) == 0 {
		t.Fatal("prometheus/alerts.yaml has no rules")
	}
	return exprs
}

// metricNames parses each expression and returns the metrics it reads.
func metricNames(t *testing.T, exprs map[string]string) map[string][]string {
	t.Helper()
	names := map[string][]string{}
	for where, e := range exprs {
		expr, err := parser.NewParser(parser.Options{}).ParseExpr(grafanaVars.Replace(e))
		if err != nil {
			t.Errorf("%s: %q does not parse: %v", where, e, err)
			continue
		}
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok {
				name := vs.Name
				if name == "" {
					t.Errorf("%s: a selector without a metric name: %s", where, vs)
				}
				names[name] = append(names[name], where)
			}
			return nil
		})
	}
	return names
}

func TestObservabilityExpressionsParse(t *testing.T) {
	if n := len(metricNames(t, dashboardExprs(t))); n < 20 {
		t.Errorf("the dashboards read %d metrics; want the overview, formats, storage and security panels", n)
	}
	if n := len(metricNames(t, ruleExprs(t))); n < 8 {
		t.Errorf("the alerts read %d metrics", n)
	}
}

// TestObservabilityMetricsExported scrapes a running arca after traffic of
// every kind the files watch (requests of several surfaces, refused
// credentials, a proxy's failing upstream, a garbage collection run as a
// job) and checks that it exports every metric a dashboard or alert reads.
func TestObservabilityMetricsExported(t *testing.T) {
	want := metricNames(t, dashboardExprs(t))
	for name, where := range metricNames(t, ruleExprs(t)) {
		want[name] = append(want[name], where...)
	}

	apptest.Each(t, func(t *testing.T, s *apptest.Server) { checkExported(t, s, want) })
}

// checkExported drives traffic through s and checks that its /metrics
// has every metric of want.
func checkExported(t *testing.T, s *apptest.Server, want map[string][]string) {
	do := func(method, path, cred, body string, status int) {
		t.Helper()
		resp, b := s.Do(t, method, path, cred, strings.NewReader(body))
		if resp.StatusCode != status {
			t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, b, status)
		}
	}
	do("PUT", "/raw/files/a.txt", apptest.Admin, "hello", 201)
	do("GET", "/raw/files/a.txt", apptest.Admin, "", 200)
	do("GET", "/v2/", "", "", 401)
	do("GET", "/api/v1/repositories", "admin:wrong-password", "", 401)
	do("POST", "/api/v1/repositories", apptest.Admin,
		`{"name":"npm-up","format":"npm","kind":"proxy","settings":{"upstream":{"url":"http://127.0.0.1:1/"}}}`, 201)
	if resp, b := s.Do(t, "GET", "/npm/npm-up/left-pad", apptest.Admin, nil); resp.StatusCode < 400 {
		t.Fatalf("a package through a proxy whose upstream is down = %d %s", resp.StatusCode, b)
	}

	// A garbage collection, run by the job queue.
	if err := s.Jobs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Jobs.Stop(ctx)
	})
	resp, body := s.Do(t, "POST", "/api/v1/jobs/gc", apptest.Admin, nil)
	var job struct {
		ID    int64  `json:"id"`
		State string `json:"state"`
	}
	if err := json.Unmarshal([]byte(body), &job); err != nil || resp.StatusCode >= 300 {
		t.Fatalf("enqueue gc = %d %s", resp.StatusCode, body)
	}
	for deadline := time.Now().Add(60 * time.Second); job.State != "completed"; {
		if time.Now().After(deadline) {
			t.Fatalf("gc job still %q", job.State)
		}
		time.Sleep(100 * time.Millisecond)
		_, body = s.Do(t, "GET", fmt.Sprint("/api/v1/jobs/", job.ID), apptest.Admin, nil)
		json.Unmarshal([]byte(body), &job)
	}

	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	tp := expfmt.NewTextParser(model.UTF8Validation)
	families, err := tp.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for name, f := range families {
		if len(f.GetMetric()) == 0 {
			continue
		}
		have[name] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				have[name+suffix] = true
			}
		}
	}
	var absent []string
	for name, where := range want {
		if _, ok := notArcas[name]; ok || have[name] {
			continue
		}
		slices.Sort(where)
		absent = append(absent, fmt.Sprintf("%s (read by %s)", name, strings.Join(slices.Compact(where), "; ")))
	}
	slices.Sort(absent)
	if len(absent) > 0 {
		t.Errorf("metrics the dashboards and alerts read but arca does not export:\n%s", strings.Join(absent, "\n"))
	}
}

// promtool finds promtool (scripts/install-ops-tools.sh installs it).
func promtool(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("ARCA_TOOLS_BIN"); dir != "" {
		if p := filepath.Join(dir, "promtool"); isExecutable(p) {
			return p
		}
	}
	p, err := exec.LookPath("promtool")
	if err != nil {
		msg := "promtool not found in ARCA_TOOLS_BIN or PATH; scripts/install-ops-tools.sh installs it"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func TestPromtoolRules(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", "prometheus/alerts.yaml"},
		{"test", "rules", "prometheus/alerts_test.yaml"},
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// Every alert has a unit test in alerts_test.yaml.
func TestEveryAlertTested(t *testing.T) {
	b, err := os.ReadFile("prometheus/alerts_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tested := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*alertname:\s*(\S+)`).FindAllStringSubmatch(string(b), -1) {
		tested[m[1]] = true
	}
	for name := range ruleExprs(t) {
		if !tested[strings.TrimPrefix(name, "alert ")] {
			t.Errorf("%s has no test in prometheus/alerts_test.yaml", name)
		}
	}
}
