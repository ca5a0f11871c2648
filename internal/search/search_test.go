package search_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/jobs"
	"github.com/arcaproject/arca/internal/search"
)

// TestIndexEveryFormat: content of every format, pushed over its own
// protocol, is found by name, version and description once the indexing
// jobs ran; a deletion takes it out again.
func TestIndexEveryFormat(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		startJobs(t, s)
		pushImage(t, s, "library/webgate", "2.1", map[string]string{"org.opencontainers.image.description": "a tiny reverse proxy"}, []byte("layer of webgate"))
		uploadWheel(t, s, "geoplot", "0.3.1", "Plot geodesic lines")
		publishNPM(t, s, "@viz/sparkline", "1.4.0", "tiny inline charts")
		do(t, s, "PUT", "/maven/maven-hosted/com/example/ledger-core/1.0/ledger-core-1.0.jar", admin, "jar bytes", 201)
		publishGo(t, s, "example.com/quarry/tool", "v1.2.0")
		uploadChart(t, s, "edge-router", "0.9.0", "routes traffic at the edge")
		do(t, s, "PUT", "/raw/files/reports/quarterly-figures.csv", admin, "a,b\n1,2\n", 201)
		putS3(t, s, s3Client(t, s), "dvc-storage", "datasets/wildlife-survey.parquet", []byte("parquet"))
		exp := mlflow(t, s, "POST", "experiments/create", `{"name":"churn-forecast","tags":[{"key":"team","value":"retention"}]}`)["experiment_id"].(string)
		run := mlflow(t, s, "POST", "runs/create", `{"experiment_id":"`+exp+`","run_name":"gradient-boost","tags":[{"key":"dataset","value":"customers-2026"}]}`)
		runID := run["run"].(map[string]any)["info"].(map[string]any)["run_id"].(string)
		mlflow(t, s, "POST", "registered-models/create", `{"name":"churn-scorer","description":"scores the risk of churn"}`)
		mlflow(t, s, "POST", "model-versions/create", `{"name":"churn-scorer","source":"runs:/`+runID+`/model","run_id":"`+runID+`","description":"first forest"}`)

		for _, c := range []struct {
			q, format, kind, name, version, summary string
		}{
			{"webgate", "oci", search.KindTag, "webgate", "2.1", "a tiny reverse proxy"},
			{"reverse proxy", "oci", search.KindTag, "webgate", "2.1", ""}, // by label
			{"geoplot", "pypi", search.KindPackage, "geoplot", "0.3.1", "Plot geodesic lines"},
			{"geodesy", "pypi", search.KindPackage, "geoplot", "0.3.1", ""}, // by keyword
			{"sparkline", "npm", search.KindPackage, "@viz/sparkline", "1.4.0", "tiny inline charts"},
			{"ledger-core", "maven", search.KindPackage, "com.example:ledger-core", "1.0", ""},
			{"quarry", "go", search.KindPackage, "example.com/quarry/tool", "v1.2.0", ""},
			{"edge-router", "helm", search.KindPackage, "edge-router", "0.9.0", "routes traffic at the edge"},
			{"quarterly", "raw", search.KindFile, "reports/quarterly-figures.csv", "", ""},
			{"wildlife", "s3", search.KindObject, "datasets/wildlife-survey.parquet", "", ""},
			{"churn-forecast", "mlflow", search.KindExperiment, "churn-forecast", "", ""},
			{"retention", "mlflow", search.KindExperiment, "churn-forecast", "", ""}, // by tag
			{"gradient", "mlflow", search.KindRun, "gradient-boost", runID, ""},
			{"customers", "mlflow", search.KindRun, "gradient-boost", runID, ""}, // by tag
			{"churn-scorer", "mlflow", search.KindModel, "churn-scorer", "", "scores the risk of churn"},
			{"forest", "mlflow", search.KindModelVersion, "churn-scorer", "1", "first forest"},
		} {
			p := eventually(t, s, admin, c.q, has(c.format, c.kind, c.name))
			r, _ := find(p, c.format, c.kind, c.name)
			if r.Version != c.version || (c.summary != "" && r.Summary != c.summary) || r.URL == "" {
				t.Errorf("search %q: %+v, want version %q summary %q", c.q, r, c.version, c.summary)
			}
		}
		// The format filter, as a parameter and as a word of the query.
		if p := query(t, s, admin, "churn", "format", "pypi"); len(p.Results) != 0 {
			t.Errorf("format=pypi found %+v", p.Results)
		}
		if p := query(t, s, admin, "churn kind:registered_model"); len(p.Results) != 1 || p.Results[0].Name != "churn-scorer" {
			t.Errorf("kind:registered_model found %+v", p.Results)
		}

		// Deletions and renames reach the index.
		do(t, s, "DELETE", "/raw/files/reports/quarterly-figures.csv", admin, "", 204)
		eventually(t, s, admin, "quarterly", func(p search.Page) bool { return len(p.Results) == 0 })
		do(t, s, "DELETE", "/v2/library/webgate/manifests/2.1", admin, "", 202)
		eventually(t, s, admin, "webgate", func(p search.Page) bool { return len(p.Results) == 0 })
		mlflow(t, s, "POST", "registered-models/rename", `{"name":"churn-scorer","new_name":"attrition-scorer"}`)
		eventually(t, s, admin, "attrition", has("mlflow", search.KindModel, "attrition-scorer"))
		eventually(t, s, admin, "churn-scorer", func(p search.Page) bool { return len(p.Results) == 0 })
		mlflow(t, s, "POST", "experiments/delete", `{"experiment_id":"`+exp+`"}`)
		eventually(t, s, admin, "gradient", func(p search.Page) bool { return len(p.Results) == 0 }) // its runs went with it
	})
}

// TestReindex: the admin's full reindex rebuilds what was lost, and only
// admins may ask for it.
func TestReindex(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		do(t, s, "PUT", "/raw/files/notes/meeting-minutes.txt", admin, "minutes", 201) // jobs not running: not indexed yet
		do(t, s, "POST", "/api/v1/users", admin, `{"name":"rita","password":"rita-password-1"}`, 201)
		do(t, s, "POST", "/api/v1/search/reindex", "", "", 401)
		do(t, s, "POST", "/api/v1/search/reindex", "rita:rita-password-1", "", 403)
		do(t, s, "POST", "/api/v1/search/reindex", admin, `{"repository":"no-such-repo"}`, 404, "Content-Type", "application/json")
		if p := query(t, s, admin, "minutes"); len(p.Results) != 0 {
			t.Fatalf("indexed before any job ran: %+v", p.Results)
		}
		body := do(t, s, "POST", "/api/v1/search/reindex", admin, "", 202)
		var j struct {
			Kind string `json:"kind"`
		}
		json.Unmarshal([]byte(body), &j)
		if j.Kind != "search_index" {
			t.Fatalf("reindex job: %s", body)
		}
		startJobs(t, s)
		eventually(t, s, admin, "minutes", has("raw", search.KindFile, "notes/meeting-minutes.txt"))

		// The maintenance command's path (arca search reindex): what is
		// missing comes back, what names nothing goes.
		if _, err := s.DB.ExecContext(context.Background(), `DELETE FROM search_docs`); err != nil {
			t.Fatal(err)
		}
		rp, _ := s.Repos.Get(context.Background(), "files")
		if err := s.Search.InsertForBenchmark(context.Background(), []search.Doc{{Format: "raw", RepositoryID: rp.ID, Repository: rp.Name,
			Group: "ghost.txt", Kind: search.KindFile, Name: "ghost.txt"}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		st, err := s.Search.Reindex(context.Background(), search.Target{All: true})
		if err != nil || st.Documents < 1 {
			t.Fatalf("reindex: %+v %v", st, err)
		}
		if p := query(t, s, admin, "meeting"); len(p.Results) != 1 {
			t.Fatalf("after reindex: %+v", p.Results)
		}
		if p := query(t, s, admin, "ghost"); len(p.Results) != 0 {
			t.Fatalf("a stale document survived the reindex: %+v", p.Results)
		}
	})
}

// TestPermissions: results of repositories, experiments and models the
// caller may not read are neither returned nor counted, for every role.
func TestPermissions(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		startJobs(t, s)
		ctx := context.Background()
		do(t, s, "POST", "/api/v1/repositories", admin, `{"name":"open-files","format":"raw","kind":"hosted","visibility":"public"}`, 201, "Content-Type", "application/json")
		for _, u := range []string{"reader", "writer", "other"} {
			do(t, s, "POST", "/api/v1/users", admin, `{"name":"`+u+`","password":"`+u+`-password-1"}`, 201)
		}
		do(t, s, "PUT", "/api/v1/repositories/files/roles/reader", admin, `{"role":"reader"}`, 200, "Content-Type", "application/json")
		do(t, s, "PUT", "/api/v1/repositories/files/roles/writer", admin, `{"role":"developer"}`, 200, "Content-Type", "application/json")
		do(t, s, "PUT", "/raw/files/secret/classified-plan.txt", admin, "plan", 201)
		do(t, s, "PUT", "/raw/open-files/classified-notes.txt", admin, "notes", 201)
		// MLflow: two experiments; other may read only the first.
		e1 := mlflow(t, s, "POST", "experiments/create", `{"name":"classified-shared"}`)["experiment_id"].(string)
		mlflow(t, s, "POST", "experiments/create", `{"name":"classified-private"}`)
		mlflow(t, s, "POST", "registered-models/create", `{"name":"classified-model"}`)
		do(t, s, "POST", "/mlflow/api/2.0/mlflow/experiments/permissions/create", admin,
			`{"experiment_id":"`+e1+`","username":"other","permission":"READ"}`, 200, "Content-Type", "application/json")
		eventually(t, s, admin, "classified", func(p search.Page) bool { return len(p.Results) == 5 })

		names := func(userpass string) string {
			var out []string
			p := query(t, s, userpass, "classified")
			for _, r := range p.Results {
				out = append(out, r.Name)
			}
			if p.NextCursor != "" {
				t.Errorf("%s: a next page of %d results", userpass, len(p.Results))
			}
			return strings.Join(sorted(out), ",")
		}
		for who, want := range map[string]string{
			"":                         "classified-notes.txt",
			"other:other-password-1":   "classified-notes.txt,classified-shared",
			"reader:reader-password-1": "classified-notes.txt,secret/classified-plan.txt",
			"writer:writer-password-1": "classified-notes.txt,secret/classified-plan.txt",
			admin:                      "classified-model,classified-notes.txt,classified-private,classified-shared,secret/classified-plan.txt",
		} {
			if got := names(who); got != want {
				t.Errorf("as %q: %s, want %s", strings.Split(who, ":")[0], got, want)
			}
		}
		// Limit 1 pages through exactly what the caller may read.
		for _, who := range []string{"", "reader:reader-password-1"} {
			n, cursor := 0, ""
			for range 10 {
				p := query(t, s, who, "classified", "limit", "1", "cursor", cursor)
				n += len(p.Results)
				if cursor = p.NextCursor; cursor == "" {
					break
				}
			}
			if want := map[string]int{"": 1, "reader:reader-password-1": 2}[who]; n != want {
				t.Errorf("as %q paging found %d results, want %d", who, n, want)
			}
		}
		// A digest of private content: nothing for those who may not read it.
		d := sha([]byte("plan"))
		for who, want := range map[string]int{"": 0, "other:other-password-1": 0, "reader:reader-password-1": 1, admin: 1} {
			if p := query(t, s, who, d); len(p.Results) != want {
				t.Errorf("digest search as %q: %+v", who, p.Results)
			}
		}
		// Bad input is refused in the API's own error format.
		for _, q := range []string{"", "format:raw", strings.Repeat("x", 300)} {
			resp, body := s.Do(t, "GET", "/api/v1/search?q="+q, "", nil)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"error"`) {
				t.Errorf("q=%.20q: %d %s", q, resp.StatusCode, body)
			}
		}
		for _, extra := range []string{"&limit=0", "&limit=1000", "&limit=x", "&cursor=bogus"} {
			if resp, body := s.Do(t, "GET", "/api/v1/search?q=classified"+extra, "", nil); resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s: %d %s", extra, resp.StatusCode, body)
			}
		}
		_ = ctx
	})
}

func sorted(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

// TestRanking: an exact name first, then names before descriptions, then
// newer before older.
func TestRanking(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		rp, err := s.Repos.Get(ctx, "pypi-hosted")
		if err != nil {
			t.Fatal(err)
		}
		doc := func(name, summary string, at int64) search.Doc {
			return search.Doc{Format: "pypi", RepositoryID: rp.ID, Repository: rp.Name, Group: name, Kind: search.KindPackage,
				Name: name, Version: "1.0", Summary: summary, UpdatedAt: at}
		}
		docs := []search.Doc{
			doc("httpx", "made for requests", 5),
			doc("requests-oauthlib", "OAuth for requests", 4),
			doc("requests", "HTTP for humans", 1),
			doc("grequests", "built on requests", 3),
			doc("toolbelt", "utilities", 2),
		}
		for i := range 50 { // bulk that does not match
			docs = append(docs, doc(fmt.Sprintf("filler-%d", i), "unrelated", 0))
		}
		if err := s.Search.InsertForBenchmark(ctx, docs); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range query(t, s, admin, "requests").Results {
			got = append(got, r.Name)
		}
		// requests (exact) first; requests-oauthlib (name) next; the two
		// that say it only in their descriptions after, newer first.
		// grequests does not start with the word: found by its summary.
		want := "requests,requests-oauthlib,httpx,grequests"
		if strings.Join(got, ",") != want {
			t.Errorf("ranking: %v, want %s", got, want)
		}
		if p := query(t, s, admin, "req"); len(p.Results) < 2 || p.Results[0].Name != "requests" && p.Results[0].Name != "requests-oauthlib" {
			t.Errorf("prefix req: %+v", p.Results)
		}
		if p := query(t, s, admin, "oauth"); len(p.Results) != 1 || p.Results[0].Name != "requests-oauthlib" {
			t.Errorf("oauth: %+v", p.Results)
		}
	})
}

// TestDigestSearch: the same bytes as a raw file, an S3 object, an image
// layer, an MLflow artifact and a package are one blob; a digest (or a
// prefix of it) finds every use.
func TestDigestSearch(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		content := []byte("the same bytes, stored once")
		d := sha(content)
		do(t, s, "PUT", "/raw/files/copies/same.bin", admin, string(content), 201)
		putS3(t, s, s3Client(t, s), "dvc-storage", "copies/same.bin", content)
		pushImage(t, s, "library/dedup", "v1", nil, content)
		exp := mlflow(t, s, "POST", "experiments/create", `{"name":"dedup"}`)["experiment_id"].(string)
		run := mlflow(t, s, "POST", "runs/create", `{"experiment_id":"`+exp+`"}`)["run"].(map[string]any)["info"].(map[string]any)["run_id"].(string)
		do(t, s, "PUT", "/mlflow/api/2.0/mlflow-artifacts/artifacts/"+exp+"/"+run+"/artifacts/same.bin", admin, string(content), 200)
		do(t, s, "PUT", "/maven/maven-hosted/com/example/same/1.0/same-1.0.jar", admin, string(content), 201)

		want := map[string]bool{"raw file copies/same.bin": true, "s3 object copies/same.bin": true, "oci blob dedup": true,
			"mlflow artifact " + exp + "/" + run + "/artifacts/same.bin": true, "maven package com.example:same": true}
		for _, q := range []string{d, strings.TrimPrefix(d, "sha256:")[:12], "sha256:" + strings.TrimPrefix(d, "sha256:")[:20]} {
			p := query(t, s, admin, q)
			if p.Digest == "" {
				t.Fatalf("%q was not taken for a digest", q)
			}
			got := map[string]bool{}
			for _, r := range p.Results {
				got[r.Format+" "+r.Kind+" "+r.Name] = true
				if len(r.Digests) != 1 || r.Digests[0] != d {
					t.Errorf("%+v", r)
				}
			}
			for k := range want {
				if !got[k] {
					t.Errorf("digest search %q lacks %s: %+v", q, k, p.Results)
				}
			}
		}
		if p := query(t, s, admin, d+" format:raw"); len(p.Results) != 1 || p.Results[0].Format != "raw" {
			t.Errorf("format:raw: %+v", p.Results)
		}
		// An MLflow artifact is shown only to who may read its experiment.
		do(t, s, "POST", "/api/v1/users", admin, `{"name":"dana","password":"dana-password-1"}`, 201)
		do(t, s, "PUT", "/api/v1/repositories/mlflow-artifacts/roles/dana", admin, `{"role":"reader"}`, 200, "Content-Type", "application/json")
		if p := query(t, s, "dana:dana-password-1", d); len(p.Results) != 1 || p.Results[0].Kind != search.KindArtifact {
			t.Errorf("dana (a reader of the artifact bucket): %+v", p.Results)
		}
		do(t, s, "POST", "/api/v1/users", admin, `{"name":"eve","password":"eve-password-1","role":"reader"}`, 201)
		do(t, s, "POST", "/mlflow/api/2.0/mlflow/experiments/permissions/create", admin,
			`{"experiment_id":"`+exp+`","username":"eve","permission":"NO_PERMISSIONS"}`, 200, "Content-Type", "application/json")
		for _, r := range query(t, s, "eve:eve-password-1", d).Results {
			if r.Kind == search.KindArtifact {
				t.Errorf("eve (NO_PERMISSIONS on the experiment) sees %+v", r)
			}
		}
	})
}

// TestDigestReferrersCoverBlobs: every column that refers to blobs is
// asked by the digest search, but the parts of multipart uploads in
// progress (not yet content anyone uses).
func TestDigestReferrersCoverBlobs(t *testing.T) {
	s := apptest.Start(t, "", nil)
	rows, err := s.DB.Query(`SELECT m.name, p."from" FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) p
		WHERE m.type = 'table' AND p."table" = 'blobs'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	asked := map[string]bool{}
	for _, c := range search.ReferrerTables() {
		asked[c] = true
	}
	n := 0
	for rows.Next() {
		var table, column string
		rows.Scan(&table, &column)
		n++
		if c := table + "." + column; !asked[c] && c != "s3_parts.digest" {
			t.Errorf("the digest search does not ask %s", c)
		}
	}
	if n == 0 {
		t.Fatal("no foreign keys to blobs")
	}
}

// TestIndexAtScale: 10,000 documents (bench/search.sh runs a million),
// queried by a selective name, a common word and a prefix, with paging.
func TestIndexAtScale(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		rp, err := s.Repos.Get(ctx, "files")
		if err != nil {
			t.Fatal(err)
		}
		word := func(i int) string { return []string{"alpha", "bravo", "charlie", "delta", "echo"}[i%5] }
		var docs []search.Doc
		for i := range 10_000 {
			name := fmt.Sprintf("data/%s/item-%d.csv", word(i), i)
			docs = append(docs, search.Doc{Format: "raw", RepositoryID: rp.ID, Repository: rp.Name, Group: name, Kind: search.KindFile,
				Name: name, Digests: []string{sha([]byte(name))}, UpdatedAt: int64(i)})
		}
		if err := s.Search.InsertForBenchmark(ctx, docs); err != nil {
			t.Fatal(err)
		}
		if p := query(t, s, admin, "item-4242"); len(p.Results) == 0 || p.Results[0].Name != "data/charlie/item-4242.csv" {
			t.Errorf("item-4242: %+v", p.Results)
		}
		p := query(t, s, admin, "delta", "limit", "100")
		if len(p.Results) != 100 || p.NextCursor == "" || p.Results[0].Name != "data/delta/item-9998.csv" {
			t.Fatalf("delta: %d results, first %+v", len(p.Results), p.Results[0])
		}
		seen := map[string]bool{}
		for cursor, pages := "", 0; pages < 10; pages++ {
			p := query(t, s, admin, "delta", "limit", "100", "cursor", cursor)
			for _, r := range p.Results {
				if seen[r.Name] || !strings.Contains(r.Name, "/delta/") {
					t.Fatalf("page %d: %s again or not delta", pages, r.Name)
				}
				seen[r.Name] = true
			}
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
		if len(seen) != 1000 { // paging stops at search.MaxOffset
			t.Errorf("paged through %d of 2000 delta items, want 1000", len(seen))
		}
		if p := query(t, s, "", "delta"); len(p.Results) != 0 {
			t.Errorf("anonymous sees private files: %d", len(p.Results))
		}
	})
}

// TestChangesShareDrainJobs: changes are recorded as pending parts and
// drained by one job per window, not a job per changed item; everything
// changed reaches the index and nothing stays pending.
func TestChangesShareDrainJobs(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		start := time.Now()
		const n = 40
		for i := range n {
			do(t, s, "PUT", fmt.Sprintf("/raw/files/drain/ledger-%02d.csv", i), admin, "x", 201)
		}
		windows := int(time.Since(start)/time.Second) + 2 + 1 // the windows the uploads spanned, at most, and the periodic drain at start
		var pending int
		if err := s.DB.QueryRowContext(ctx, `SELECT count(*) FROM search_pending`).Scan(&pending); err != nil || pending != n {
			t.Fatalf("pending parts before the jobs ran: %d (%v), want %d", pending, err, n)
		}
		startJobs(t, s)
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if p := query(t, s, admin, "ledger", "limit", "100"); len(p.Results) == n {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("%d of %d changes indexed", len(p.Results), n)
			}
		}
		page, err := s.Jobs.List(ctx, jobs.ListParams{Kind: "search_pending", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Jobs) == 0 || len(page.Jobs) > windows {
			t.Errorf("%d drain jobs for %d changes over at most %d windows", len(page.Jobs), n, windows)
		}
		if page, _ := s.Jobs.List(ctx, jobs.ListParams{Kind: "search_index"}); len(page.Jobs) != 0 {
			t.Errorf("%d per-item index jobs, want none", len(page.Jobs))
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			if err := s.DB.QueryRowContext(ctx, `SELECT count(*) FROM search_pending`).Scan(&pending); err != nil {
				t.Fatal(err)
			}
			if pending == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d parts still pending", pending)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// TestPeriodicDrain: changes whose drain job is gone (queued in a
// transaction that then rolled back) are indexed by the periodic drain,
// which also runs when the job runner starts; a drain takes only what was
// queued before it started.
func TestPeriodicDrain(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		for i := range 3 {
			do(t, s, "PUT", fmt.Sprintf("/raw/files/sweep/orphaned-%d.csv", i), admin, "x", 201)
		}
		if _, err := s.DB.Exec(`DELETE FROM river_job WHERE kind = 'search_pending'`); err != nil {
			t.Fatal(err)
		}
		// A part queued after a drain started is the next drain's: one
		// queued an hour from now stays.
		if _, err := s.DB.Exec(`INSERT INTO search_pending (repository, grp, queued_at) VALUES ('files', 'later.csv', $1)`,
			time.Now().Add(time.Hour).UnixMilli()); err != nil {
			t.Fatal(err)
		}
		startJobs(t, s)
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if p := query(t, s, admin, "orphaned", "limit", "100"); len(p.Results) == 3 {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("%d of 3 changes indexed", len(p.Results))
			}
		}
		var left []string
		rows, err := s.DB.Query(`SELECT grp FROM search_pending`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var g string
			rows.Scan(&g)
			left = append(left, g)
		}
		rows.Close()
		if len(left) != 1 || left[0] != "later.csv" {
			t.Fatalf("pending after the drain: %q, want only the part queued after it started", left)
		}
	})
}
