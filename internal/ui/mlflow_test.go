package ui_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/meta"
)

// mlflowFixture writes MLflow rows straight into the database, as the
// tracking server would.
type mlflowFixture struct {
	t   *testing.T
	s   *apptest.Server
	ctx context.Context
}

func newMLflowFixture(t *testing.T, s *apptest.Server) *mlflowFixture {
	return &mlflowFixture{t: t, s: s, ctx: context.Background()}
}

func (f *mlflowFixture) exec(q string, args ...any) {
	f.t.Helper()
	if _, err := f.s.DB.ExecContext(f.ctx, q, args...); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
}

func (f *mlflowFixture) id(q string, args ...any) int64 {
	f.t.Helper()
	var id int64
	if err := f.s.DB.QueryRowContext(f.ctx, q, args...).Scan(&id); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
	return id
}

func (f *mlflowFixture) experiment(name string, tags ...string) int64 {
	f.t.Helper()
	id := f.id(`INSERT INTO mlflow_experiments (name, artifact_location, creation_time, last_update_time)
		VALUES ($1, 'pending', $2, $2) RETURNING id`, name, meta.Now())
	f.exec(`UPDATE mlflow_experiments SET artifact_location = $1 WHERE id = $2`, fmt.Sprintf("mlflow-artifacts:/%d", id), id)
	for i := 0; i+1 < len(tags); i += 2 {
		f.exec(`INSERT INTO mlflow_experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3)`, id, tags[i], tags[i+1])
	}
	return id
}

type fixtureRun struct {
	ID   int64
	UUID string
}

// run adds a finished run that started start ms ago and took dur ms.
func (f *mlflowFixture) run(exp int64, uuid, name, status, user string, startAgo, dur int64) fixtureRun {
	f.t.Helper()
	now := meta.Now()
	var end any
	if status != "RUNNING" {
		end = now - startAgo + dur
	}
	id := f.id(`INSERT INTO mlflow_runs (run_uuid, experiment_id, name, user_id, status, start_time, end_time, artifact_uri)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		uuid, exp, name, user, status, now-startAgo, end, fmt.Sprintf("mlflow-artifacts:/%d/%s/artifacts", exp, uuid))
	f.exec(`INSERT INTO mlflow_run_tags (run_id, key, value) VALUES ($1, 'mlflow.runName', $2)`, id, name)
	return fixtureRun{ID: id, UUID: uuid}
}

func (f *mlflowFixture) param(r fixtureRun, k, v string) {
	f.exec(`INSERT INTO mlflow_params (run_id, key, value) VALUES ($1, $2, $3)`, r.ID, k, v)
}

func (f *mlflowFixture) tag(r fixtureRun, k, v string) {
	f.exec(`INSERT INTO mlflow_run_tags (run_id, key, value) VALUES ($1, $2, $3)`, r.ID, k, v)
}

// metric logs a history (one point per step from 0; NaN stored as MLflow
// stores it) and its latest value.
func (f *mlflowFixture) metric(r fixtureRun, key string, values ...float64) {
	f.t.Helper()
	tx, err := f.s.DB.BeginTx(f.ctx, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	ts := meta.Now()
	for i, v := range values {
		nan := 0
		if math.IsNaN(v) {
			v, nan = 0, 1
		}
		if _, err := tx.ExecContext(f.ctx, `INSERT INTO mlflow_metrics (run_id, key, step, timestamp, value, is_nan)
			VALUES ($1, $2, $3, $4, $5, $6)`, r.ID, key, i, ts+int64(i), v, nan); err != nil {
			tx.Rollback()
			f.t.Fatal(err)
		}
		if i == len(values)-1 {
			if _, err := tx.ExecContext(f.ctx, `INSERT INTO mlflow_latest_metrics (run_id, key, step, timestamp, value, is_nan)
				VALUES ($1, $2, $3, $4, $5, $6)`, r.ID, key, i, ts+int64(i), v, nan); err != nil {
				tx.Rollback()
				f.t.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		f.t.Fatal(err)
	}
}

// artifact stores content as an object of the artifact bucket under the
// run's artifact root.
func (f *mlflowFixture) artifact(exp int64, r fixtureRun, path, content string) {
	f.t.Helper()
	info, err := f.s.Blobs.Put(f.ctx, strings.NewReader(content), blob.Expect{}, blob.MD5)
	if err != nil {
		f.t.Fatal(err)
	}
	bucket, err := f.s.Repos.Get(f.ctx, "mlflow-artifacts")
	if err != nil {
		f.t.Fatal(err)
	}
	if err := gc.Record(f.ctx, f.s.DB, f.s.Blobs, gc.BlobOf(info)); err != nil {
		f.t.Fatal(err)
	}
	f.exec(`INSERT INTO s3_objects (repository_id, key, digest, size, etag, content_type, modified_at)
		VALUES ($1, $2, $3, $4, $5, 'text/plain', $6)`, bucket.ID, fmt.Sprintf("%d/%s/artifacts/%s", exp, r.UUID, path),
		info.Digest.String(), info.Size, info.MD5, meta.Now())
}

func (f *mlflowFixture) registeredModel(name string) int64 {
	return f.id(`INSERT INTO mlflow_registered_models (name, description, creation_timestamp, last_updated_timestamp)
		VALUES ($1, $2, $3, $3) RETURNING id`, name, "the model called "+name, meta.Now())
}

func (f *mlflowFixture) version(model int64, version int, stage, runUUID string) {
	f.exec(`INSERT INTO mlflow_model_versions (model_id, version, current_stage, source, run_id, creation_timestamp, last_updated_timestamp)
		VALUES ($1, $2, $3, $4, $5, $6, $6)`, model, version, stage, "models:/m-"+runUUID, runUUID, meta.Now())
}

func (f *mlflowFixture) permission(kind string, id int64, user, perm string) {
	f.t.Helper()
	u, err := f.s.Auth.GetUser(f.ctx, user)
	if err != nil {
		f.t.Fatal(err)
	}
	f.exec(`INSERT INTO mlflow_permissions (resource_kind, resource_id, user_id, permission) VALUES ($1, $2, $3, $4)`,
		kind, id, u.ID, perm)
}

func uuidOf(n int) string { return fmt.Sprintf("%032x", n) }

func mustContain(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Fatalf("%s lacks %q:\n%s", what, w, excerpt(body))
		}
	}
}

func mustNotContain(t *testing.T, what, body string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(body, w) {
			t.Fatalf("%s shows %q:\n%s", what, w, excerpt(body))
		}
	}
}

// runOrder returns the run ids of a runs table, in order.
var runLinkRe = regexp.MustCompile(`<input type="checkbox" name="runs" value="([0-9a-f]{32})"`)

func runOrder(body string) []string {
	var out []string
	for _, m := range runLinkRe.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestMLflowPages(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		f := newMLflowFixture(t, s)
		exp := f.experiment("fraud-detection", "team", "risk", "mlflow.note.content", "Finds fraud.")
		f.experiment("churn")
		a := f.run(exp, uuidOf(1), "alpha", "FINISHED", "ann", 3000_000, 60_000)
		b := f.run(exp, uuidOf(2), "beta", "FAILED", "bob", 2000_000, 5_000)
		c := f.run(exp, uuidOf(3), "gamma", "RUNNING", "ann", 1000_000, 0)
		f.param(a, "lr", "0.1")
		f.param(b, "lr", "0.01")
		f.param(c, "lr", "0.1")
		f.param(a, "depth", "4")
		f.param(b, "depth", "4")
		f.param(c, "depth", "4")
		f.tag(a, "owner", "risk-team")
		f.metric(a, "acc", 0.5, 0.8, math.NaN(), 0.93)
		f.metric(b, "acc", 0.4, 0.7)
		f.metric(c, "acc", 0.3, 0.5, 0.95)
		f.metric(a, "loss", 1, 0.5, 0.25)
		f.metric(b, "loss", 1, math.MaxFloat64, 0.5, -math.MaxFloat64) // infinities, as the tracking server stores them
		f.artifact(exp, a, "model/MLmodel", "flavors: {}\n")
		f.artifact(exp, a, "notes.txt", "hello artifacts")
		m := f.registeredModel("fraud-model")
		f.version(m, 1, "Production", a.UUID)
		f.exec(`INSERT INTO mlflow_model_aliases (model_id, alias, version) VALUES ($1, 'champion', 1)`, m)

		admin := newBrowser(t, s)
		admin.login("admin", apptest.AdminPassword)

		// Experiments list: name, id, runs, tags; search by name.
		list := admin.get("/ui/experiments", http.StatusOK)
		mustContain(t, "experiments", list, "fraud-detection", "churn", "Default", fmt.Sprintf(`href="/ui/experiments/%d"`, exp), "team=risk", "Finds fraud.")
		if !regexp.MustCompile(`(?s)fraud-detection.*?<td class="num">3</td>`).MatchString(list) {
			t.Fatalf("the run count of fraud-detection is not 3:\n%s", excerpt(list))
		}
		list = admin.get("/ui/experiments?q=FRAUD", http.StatusOK)
		mustContain(t, "search", list, "fraud-detection")
		mustNotContain(t, "search", list, "churn")

		// Runs table: default newest first, chosen columns, sorting.
		base := fmt.Sprintf("/ui/experiments/%d", exp)
		page := admin.get(base, http.StatusOK)
		mustContain(t, "runs table", page, "alpha", "beta", "gamma", "0.93", "ml-status-failed", `aria-sort="descending"`, "Compare selected runs")
		if got := runOrder(page); strings.Join(got, ",") != strings.Join([]string{c.UUID, b.UUID, a.UUID}, ",") {
			t.Fatalf("default order %v, want newest first", got)
		}
		page = admin.get(base+"?metrics=acc&params=lr&sort=metrics.acc&dir=desc", http.StatusOK)
		if got := runOrder(page); strings.Join(got, ",") != strings.Join([]string{c.UUID, a.UUID, b.UUID}, ",") {
			t.Fatalf("order by acc desc %v", got)
		}
		mustContain(t, "columns", page, "<span class=\"ml-kind\">param</span> lr")
		mustNotContain(t, "columns", page, "<span class=\"ml-kind\">metric</span> loss")
		page = admin.get(base+"?sort=duration&dir=asc", http.StatusOK)
		if got := runOrder(page); strings.Join(got, ",") != strings.Join([]string{b.UUID, a.UUID, c.UUID}, ",") {
			t.Fatalf("order by duration asc %v (gamma is still running: 1000 s)", got)
		}
		page = admin.get(base+"?sort=run_name&dir=asc", http.StatusOK)
		if got := runOrder(page); strings.Join(got, ",") != strings.Join([]string{a.UUID, b.UUID, c.UUID}, ",") {
			t.Fatalf("order by name %v", got)
		}

		// Filters with MLflow's grammar; errors inline, not a 500.
		page = admin.get(base+"?filter="+url.QueryEscape("metrics.acc > 0.9 AND params.lr = '0.1'"), http.StatusOK)
		if got := runOrder(page); strings.Join(got, ",") != strings.Join([]string{c.UUID, a.UUID}, ",") {
			t.Fatalf("filtered runs %v", got)
		}
		page = admin.get(base+"?filter="+url.QueryEscape("attributes.status = 'FAILED'"), http.StatusOK)
		if got := runOrder(page); len(got) != 1 || got[0] != b.UUID {
			t.Fatalf("status filter %v", got)
		}
		for _, bad := range []string{"metrics.acc >", "nonsense", "params.lr > 'x' OR 1", "metrics.acc = 'x'"} {
			resp, body := admin.do("GET", base+"?filter="+url.QueryEscape(bad), nil)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("filter %q: %d, want 400\n%s", bad, resp.StatusCode, excerpt(body))
			}
			mustContain(t, "filter error", body, `id="filter-error" role="alert"`, `aria-invalid="true"`)
		}
		resp, body := admin.do("GET", base+"?page_token=%25%25garbage", nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "filter-error") {
			t.Fatalf("bad page token: %d\n%s", resp.StatusCode, excerpt(body))
		}

		// Run page: info, params, tags, metrics with one chart each,
		// artifacts, the registered version made from it.
		run := admin.get("/ui/runs/"+a.UUID, http.StatusOK)
		mustContain(t, "run page", run, "alpha", a.UUID, "fraud-detection", "ann", "1 min 0 s",
			"<code>lr</code>", "0.1", "owner", "risk-team", "0.93", `id="chart-0"`, `id="chart-1"`,
			"notes.txt", "model/", "/ui/models/fraud-model#v1", "@champion", "Production")
		if n := strings.Count(run, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\""); n != 2 {
			t.Fatalf("%d charts, want 2 (acc and loss)", n)
		}
		// The acc chart skips the NaN point: 3 vertices.
		if m := regexp.MustCompile(`(?s)<figure class="ml-chart" id="chart-0">.*?<path stroke="[^"]+" d="([^"]+)"`).FindStringSubmatch(run); m == nil ||
			strings.Count(m[1], "L")+strings.Count(m[1], "M") != 3 {
			t.Fatalf("acc chart path: %v", m)
		}

		// Artifacts: folders, downloads with the experiment's permission.
		folder := admin.get("/ui/runs/"+a.UUID+"/artifacts?path=model", http.StatusOK)
		mustContain(t, "artifact folder", folder, "MLmodel", "path=model%2FMLmodel")
		resp, body = admin.do("GET", "/ui/runs/"+a.UUID+"/artifacts/file?path=notes.txt", nil)
		if resp.StatusCode != 200 || body != "hello artifacts" || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") ||
			!strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") {
			t.Fatalf("artifact download: %d %q %v", resp.StatusCode, body, resp.Header)
		}
		admin.get("/ui/runs/"+a.UUID+"/artifacts/file?path=nope.txt", http.StatusNotFound)
		admin.get("/ui/runs/"+a.UUID+"/artifacts/file?path=../x", http.StatusBadRequest)
		admin.get("/ui/runs/"+uuidOf(99), http.StatusNotFound)
		admin.get("/ui/experiments/999999", http.StatusNotFound)

		// The infinities of b's loss are not drawn, and shown by name.
		run = admin.get("/ui/runs/"+b.UUID, http.StatusOK)
		mustContain(t, "run with infinities", run, "-Infinity", "2 points, step from 0 to 2, values from 0.5 to 1")
		mustNotContain(t, "run with infinities", run, "e+308")

		// Compare: one chart with a series per run, params diff.
		cmp := admin.get("/ui/compare?runs="+a.UUID+","+b.UUID+"&runs="+c.UUID+"&metric=acc", http.StatusOK)
		if m := regexp.MustCompile(`(?s)<g class="chart-series".*?</g>`).FindString(cmp); strings.Count(m, "<path ") != 3 {
			t.Fatalf("compare chart has %d series, want 3:\n%s", strings.Count(m, "<path "), m)
		}
		mustContain(t, "compare", cmp, "ml-legend", "<code>lr</code>", "0.01", "1 is the same in every run")
		mustNotContain(t, "compare", cmp, "<code>depth</code>")
		cmp = admin.get("/ui/compare?runs="+a.UUID+","+b.UUID+"&all=1", http.StatusOK)
		mustContain(t, "compare all", cmp, "<code>depth</code>")
		admin.get("/ui/compare", http.StatusBadRequest)

		// Models.
		models := admin.get("/ui/models", http.StatusOK)
		mustContain(t, "models", models, "fraud-model", "@champion → v1", "Production", "version 1")
		model := admin.get("/ui/models/fraud-model", http.StatusOK)
		mustContain(t, "model", model, "the model called fraud-model", `id="v1"`, "/ui/runs/"+a.UUID, "@champion")
		admin.get("/ui/models/nope", http.StatusNotFound)
		if models := admin.get("/ui/models?q=zzz", http.StatusOK); strings.Contains(models, "fraud-model") {
			t.Fatal("model search ignores the name")
		}
	})
}

func TestMLflowRunsPagination(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		f := newMLflowFixture(t, s)
		exp := f.experiment("many")
		for i := range 25 {
			r := f.run(exp, uuidOf(i+1), fmt.Sprintf("run-%02d", i), "FINISHED", "ann", int64(100_000-i*1000), 10)
			f.metric(r, "score", float64(i))
		}
		admin := newBrowser(t, s)
		admin.login("admin", apptest.AdminPassword)
		seen := map[string]bool{}
		next := fmt.Sprintf("/ui/experiments/%d?size=10&sort=metrics.score&dir=asc", exp)
		pages := 0
		for next != "" {
			page := admin.get(next, http.StatusOK)
			pages++
			for _, id := range runOrder(page) {
				if seen[id] {
					t.Fatalf("run %s on two pages", id)
				}
				seen[id] = true
			}
			m := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(page)
			next = ""
			if m != nil {
				next = strings.ReplaceAll(m[1], "&amp;", "&")
				if !strings.Contains(next, "page_token=") {
					t.Fatalf("next link without a page token: %s", next)
				}
			}
		}
		if pages != 3 || len(seen) != 25 {
			t.Fatalf("%d pages, %d runs; want 3 pages of all 25 runs", pages, len(seen))
		}
	})
}

func TestMLflowPermissions(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		f := newMLflowFixture(t, s)
		open := f.experiment("open-exp")
		hidden := f.experiment("hidden-exp")
		shared := f.experiment("shared-exp")
		ro := f.run(open, uuidOf(1), "open-run", "FINISHED", "ann", 1000, 10)
		rh := f.run(hidden, uuidOf(2), "hidden-run", "FINISHED", "ann", 1000, 10)
		rs := f.run(shared, uuidOf(3), "shared-run", "FINISHED", "ann", 1000, 10)
		f.artifact(hidden, rh, "secret.txt", "secret")
		openModel := f.registeredModel("open-model")
		hiddenModel := f.registeredModel("hidden-model")
		f.version(hiddenModel, 1, "None", ro.UUID)
		f.version(openModel, 1, "None", ro.UUID)

		space, err := s.Repos.Get(ctx, "mlflow")
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range []string{"reader", "outsider"} {
			if _, err := s.Auth.CreateUser(ctx, u, u+"-password-1", "", auth.NoRole); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Auth.Grant(ctx, "reader", space.ID, auth.Reader); err != nil {
			t.Fatal(err)
		}
		f.permission("experiment", hidden, "reader", "NO_PERMISSIONS")
		f.permission("registered_model", hiddenModel, "reader", "NO_PERMISSIONS")
		f.permission("experiment", shared, "outsider", "READ")
		f.permission("experiment", open, "outsider", "NO_PERMISSIONS")

		// A reader of the space sees everything but what is explicitly
		// hidden from them.
		reader := newBrowser(t, s)
		reader.login("reader", "reader-password-1")
		list := reader.get("/ui/experiments", http.StatusOK)
		mustContain(t, "reader's experiments", list, "open-exp", "shared-exp")
		mustNotContain(t, "reader's experiments", list, "hidden-exp")
		reader.get(fmt.Sprintf("/ui/experiments/%d", hidden), http.StatusForbidden)
		reader.get("/ui/runs/"+rh.UUID, http.StatusForbidden)
		reader.get("/ui/runs/"+rh.UUID+"/artifacts/file?path=secret.txt", http.StatusForbidden)
		reader.get("/ui/compare?runs="+ro.UUID+","+rh.UUID, http.StatusForbidden)
		run := reader.get("/ui/runs/"+ro.UUID, http.StatusOK)
		mustContain(t, "reader's run page", run, "/ui/models/open-model#v1")
		mustNotContain(t, "reader's run page", run, "hidden-model")
		models := reader.get("/ui/models", http.StatusOK)
		mustContain(t, "reader's models", models, "open-model")
		mustNotContain(t, "reader's models", models, "hidden-model")
		reader.get("/ui/models/hidden-model", http.StatusForbidden)

		// A user without a role sees only what is shared with them.
		outsider := newBrowser(t, s)
		outsider.login("outsider", "outsider-password-1")
		list = outsider.get("/ui/experiments", http.StatusOK)
		mustContain(t, "outsider's experiments", list, "shared-exp")
		mustNotContain(t, "outsider's experiments", list, "open-exp", "hidden-exp", "Default")
		outsider.get("/ui/runs/"+rs.UUID, http.StatusOK)
		outsider.get("/ui/runs/"+ro.UUID, http.StatusForbidden)
		outsider.get(fmt.Sprintf("/ui/experiments/%d", open), http.StatusForbidden)
		if models := outsider.get("/ui/models", http.StatusOK); strings.Contains(models, "open-model") {
			t.Fatal("an outsider sees registered models")
		}

		// Anonymous visitors of a private space are asked to sign in.
		anon := newBrowser(t, s)
		anon.redirectsToLogin("/ui/experiments")
		anon.redirectsToLogin("/ui/runs/" + ro.UUID)
		anon.redirectsToLogin("/ui/models")
		// ... and read a public one, minus explicit refusals of no one.
		space.Visibility = "public"
		if err := s.Repos.Update(ctx, space); err != nil {
			t.Fatal(err)
		}
		list = anon.get("/ui/experiments", http.StatusOK)
		mustContain(t, "anonymous experiments", list, "open-exp", "hidden-exp")
		anon.get("/ui/runs/"+ro.UUID, http.StatusOK)
	})
}

func TestMLflowChartOfLongHistory(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		f := newMLflowFixture(t, s)
		exp := f.experiment("long")
		r := f.run(exp, uuidOf(1), "long-run", "FINISHED", "ann", 1000, 10)
		values := make([]float64, 20000)
		for i := range values {
			values[i] = math.Sin(float64(i) / 100)
		}
		values[12345] = 9 // a spike downsampling must keep
		f.metric(r, "wave", values...)
		admin := newBrowser(t, s)
		admin.login("admin", apptest.AdminPassword)
		page := admin.get("/ui/runs/"+r.UUID, http.StatusOK)
		svg := regexp.MustCompile(`(?s)<svg xmlns="http://www.w3.org/2000/svg" class="chart".*?</svg>`).FindString(page)
		if svg == "" {
			t.Fatal("no chart")
		}
		d := regexp.MustCompile(` d="([^"]+)"`).FindStringSubmatch(svg)
		if n := strings.Count(d[1], "L") + 1; n > 2*600 || n < 100 {
			t.Fatalf("20,000 points drawn as %d vertices", n)
		}
		if !strings.Contains(page, "20000 points") || !bytes.Contains([]byte(svg), []byte("values from -1 to 9")) {
			t.Fatalf("chart caption or description wrong:\n%s", svg[:min(len(svg), 600)])
		}
	})
}
