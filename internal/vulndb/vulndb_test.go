package vulndb_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/meta/metatest"
	"github.com/arcaproject/arca/internal/vulndb"
	"github.com/arcaproject/arca/internal/vulndb/vulndbtest"
)

func parse(t *testing.T, rec string) *vulndb.Advisory {
	t.Helper()
	a, err := vulndb.ParseAdvisory([]byte(rec))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Versions are compared in each ecosystem's own order: PEP 440 for PyPI
// (2.20.0rc1 is before 2.20.0), npm semver, Debian's epochs and revisions,
// Alpine's -rN, rpmvercmp for RPM distributions.
func TestAffectsUsesEcosystemOrdering(t *testing.T) {
	requests := parse(t, vulndbtest.Records["PyPI"][0])
	lodash := parse(t, vulndbtest.Records["npm"][0])
	zlibDeb := parse(t, vulndbtest.Records["Debian"][0])
	zlibApk := parse(t, vulndbtest.Records["Alpine"][0])
	rhsa := parse(t, vulndbtest.Records["Red Hat"][0])
	byBinary := parse(t, `{"id":"X-ALMA","affected":[{"package":{"ecosystem":"AlmaLinux:9","name":"openssl-libs"},
		"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1:3.0.7-16.el9_2"}]}]}]}`)
	byBinaryDeb := parse(t, `{"id":"X-DEB","affected":[{"package":{"ecosystem":"Debian:11","name":"zlib1g"},
		"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}`)
	for _, tc := range []struct {
		a     *vulndb.Advisory
		c     vulndb.Component
		want  bool
		fixed string
	}{
		{requests, vulndb.Component{Ecosystem: "PyPI", Name: "requests", Version: "2.19.1"}, true, "2.20.0"},
		{requests, vulndb.Component{Ecosystem: "PyPI", Name: "Requests", Version: "2.20.0rc1"}, true, "2.20.0"},
		{requests, vulndb.Component{Ecosystem: "PyPI", Name: "requests", Version: "2.20.0"}, false, ""},
		{requests, vulndb.Component{Ecosystem: "PyPI", Name: "requests", Version: "2.3"}, true, "2.20.0"},
		{requests, vulndb.Component{Ecosystem: "npm", Name: "requests", Version: "2.19.1"}, false, ""},
		{lodash, vulndb.Component{Ecosystem: "npm", Name: "lodash", Version: "4.17.15"}, true, "4.17.19"},
		{lodash, vulndb.Component{Ecosystem: "npm", Name: "lodash", Version: "4.17.19"}, false, ""},
		{lodash, vulndb.Component{Ecosystem: "npm", Name: "lodash", Version: "3.6.9"}, false, ""},
		{lodash, vulndb.Component{Ecosystem: "npm", Name: "lodash", Version: "4.17.19-beta.1"}, true, "4.17.19"},
		{zlibDeb, vulndb.Component{Ecosystem: "Debian:11", Name: "zlib1g", Source: "zlib", Version: "1:1.2.11.dfsg-2+deb11u1"}, true, "1:1.2.11.dfsg-2+deb11u2"},
		{zlibDeb, vulndb.Component{Ecosystem: "Debian:11", Name: "zlib1g", Source: "zlib", Version: "1:1.2.11.dfsg-2+deb11u2"}, false, ""},
		{zlibDeb, vulndb.Component{Ecosystem: "Debian:11", Name: "zlib1g", Source: "zlib", Version: "1.2.13"}, true, "1:1.2.11.dfsg-2+deb11u2"}, // epoch 0 < 1
		{zlibDeb, vulndb.Component{Ecosystem: "Debian:12", Name: "zlib1g", Source: "zlib", Version: "1:1.2.11.dfsg-2+deb11u1"}, false, ""},
		{zlibDeb, vulndb.Component{Ecosystem: "Debian", Name: "zlib1g", Source: "zlib", Version: "1:1.2.11.dfsg-2+deb11u1"}, true, "1:1.2.11.dfsg-2+deb11u2"},
		{zlibApk, vulndb.Component{Ecosystem: "Alpine:v3.16", Name: "zlib", Version: "1.2.12-r1"}, true, "1.2.12-r2"},
		{zlibApk, vulndb.Component{Ecosystem: "Alpine:v3.16", Name: "zlib", Version: "1.2.12-r10"}, false, ""},
		// RPM: rpmvercmp through the semantic package, epochs (absent is 0),
		// the release narrowing to every repository of RHEL 9, advisories
		// keyed by the source package.
		{rhsa, vulndb.Component{Ecosystem: "Red Hat:enterprise_linux:9", Name: "openssl-libs", Source: "openssl", Version: "1:3.0.1-43.el9_0"}, true, "1:3.0.7-16.el9_2"},
		{rhsa, vulndb.Component{Ecosystem: "Red Hat:enterprise_linux:9", Name: "openssl-libs", Source: "openssl", Version: "1:3.0.7-6.el9_2"}, true, "1:3.0.7-16.el9_2"},
		{rhsa, vulndb.Component{Ecosystem: "Red Hat:enterprise_linux:9", Name: "openssl-libs", Source: "openssl", Version: "3.0.9-1.el9"}, true, "1:3.0.7-16.el9_2"},
		{rhsa, vulndb.Component{Ecosystem: "Red Hat:enterprise_linux:9", Name: "openssl-libs", Source: "openssl", Version: "1:3.0.7-16.el9_2"}, false, ""},
		{rhsa, vulndb.Component{Ecosystem: "Red Hat:enterprise_linux:9", Name: "openssl-libs", Source: "openssl", Version: "1:3.0.7-24.el9"}, false, ""},
		{rhsa, vulndb.Component{Ecosystem: "Red Hat:enterprise_linux:8", Name: "openssl-libs", Source: "openssl", Version: "1:1.1.1k-7.el8_6"}, false, ""},
		{rhsa, vulndb.Component{Ecosystem: "Red Hat", Name: "openssl", Version: "1:3.0.1-43.el9_0"}, true, "1:3.0.7-16.el9_2"},
		{rhsa, vulndb.Component{Ecosystem: "Rocky Linux:9", Name: "openssl", Version: "1:3.0.1-43.el9_0"}, false, ""},
		// An RPM distribution whose advisory names the binary package.
		{byBinary, vulndb.Component{Ecosystem: "AlmaLinux:9", Name: "openssl-libs", Source: "openssl", Version: "1:3.0.1-43.el9_0"}, true, "1:3.0.7-16.el9_2"},
		// Debian's name source packages only.
		{byBinaryDeb, vulndb.Component{Ecosystem: "Debian:11", Name: "zlib1g", Source: "zlib", Version: "1:1.2.11.dfsg-2+deb11u1"}, false, ""},
	} {
		got, fixed := tc.a.Affects(tc.c)
		if got != tc.want || fixed != tc.fixed {
			t.Errorf("%s affects %+v = %v (fixed %q), want %v (%q)", tc.a.ID, tc.c, got, fixed, tc.want, tc.fixed)
		}
	}
}

func TestRangeEvents(t *testing.T) {
	a := parse(t, `{"id":"X-1","affected":[{"package":{"ecosystem":"PyPI","name":"p"},"ranges":[{"type":"ECOSYSTEM","events":[
		{"introduced":"2.0"},{"last_affected":"2.5"},{"introduced":"0"},{"fixed":"1.1"}]}], "versions":["9.9"]}]}`)
	for v, want := range map[string]bool{"0.1": true, "1.1": false, "1.5": false, "2.0": true, "2.5": true, "2.6": false, "9.9": true} {
		if got, _ := a.Affects(vulndb.Component{Ecosystem: "PyPI", Name: "p", Version: v}); got != want {
			t.Errorf("version %s: affected = %v, want %v", v, got, want)
		}
	}
	w := parse(t, `{"id":"X-2","withdrawn":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"p"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}`)
	if got, _ := w.Affects(vulndb.Component{Ecosystem: "PyPI", Name: "p", Version: "1"}); got {
		t.Error("a withdrawn advisory matched")
	}
}

func TestRate(t *testing.T) {
	for rec, want := range map[string]vulndb.Severity{
		vulndbtest.Records["PyPI"][0]:   vulndb.Critical, // CVSS 3.0 9.8 outranks the stated HIGH
		vulndbtest.Records["npm"][0]:    vulndb.High,     // CVSS 3.1 7.4
		vulndbtest.Records["npm"][1]:    vulndb.Critical, // stated
		vulndbtest.Records["Debian"][0]: vulndb.Unknown,
		`{"id":"V4","severity":[{"type":"CVSS_V4","score":"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N"}]}`: vulndb.Medium,
		`{"id":"M","affected":[{"package":{"ecosystem":"npm","name":"x"},"database_specific":{"severity":"MODERATE"}}]}`:        vulndb.Medium,
	} {
		if got, _ := parse(t, rec).Rate(); got != want {
			t.Errorf("%.60s...: severity %v, want %v", rec, got, want)
		}
	}
}

func FuzzParseAdvisory(f *testing.F) {
	for _, recs := range vulndbtest.Records {
		for _, r := range recs {
			f.Add([]byte(r))
		}
	}
	f.Add([]byte(`{"id":"x","affected":[{"package":{"ecosystem":"Debian:1","name":"a"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1:"},{"last_affected":"~"}]}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := vulndb.ParseAdvisory(b)
		if err != nil {
			return
		}
		a.Rate()
		for _, eco := range []string{"PyPI", "npm", "Debian:12", "Alpine:v3.18", "Maven", "Go"} {
			for _, af := range a.Affected {
				a.Affects(vulndb.Component{Ecosystem: eco, Name: af.Package.Name, Version: "1.0.0-r1"})
				for _, r := range af.Ranges {
					for _, e := range r.Events {
						a.Affects(vulndb.Component{Ecosystem: eco, Name: af.Package.Name, Version: e.Introduced + e.Fixed})
					}
				}
			}
		}
	})
}

// Import reads export zips (laid out as OSV publishes them) into the
// database, once per modification; Match finds what affects components.
func TestImportAndMatch(t *testing.T) {
	metatest.Each(t, func(t *testing.T, db *meta.DB) {
		ctx := context.Background()
		dir := t.TempDir()
		for _, eco := range vulndbtest.Ecosystems() {
			os.MkdirAll(filepath.Join(dir, eco), 0o755)
			os.WriteFile(filepath.Join(dir, eco, "all.zip"), vulndbtest.Zip(t, eco), 0o644)
		}
		v := vulndb.New(db)
		res, err := v.ImportPath(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		changed := 0
		for _, r := range res {
			changed += r.Changed
		}
		if len(res) != 4 || changed != 5 {
			t.Fatalf("import: %+v", res)
		}
		res, err = v.ImportPath(ctx, dir)
		if err != nil || res[0].Changed != 0 {
			t.Fatalf("a second import changed %+v (%v)", res, err)
		}
		total, sources, err := v.Status(ctx)
		if err != nil || total != 5 || len(sources) != 4 || sources[0].Name != "Alpine" {
			t.Fatalf("status: %d %+v %v", total, sources, err)
		}
		fs, err := v.Match(ctx, []vulndb.Component{
			{Ecosystem: "npm", Name: "lodash", Version: "4.17.15"},
			{Ecosystem: "PyPI", Name: "Requests", Version: "2.19.1"},
			{Ecosystem: "PyPI", Name: "urllib3", Version: "1.0"},
			{Ecosystem: "Debian:11", Name: "zlib1g", Source: "zlib", Version: "1:1.2.11.dfsg-2+deb11u1"},
		})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range fs {
			got = append(got, f.Advisory+"/"+f.Severity.String()+"/"+f.Fixed)
		}
		want := "GHSA-x84v-xcm2-53pg/Critical/2.20.0 GHSA-p6mc-m468-83gw/High/4.17.19 DSA-5218-1/Unknown/1:1.2.11.dfsg-2+deb11u2"
		if strings.Join(got, " ") != want {
			t.Fatalf("findings\n %s\nwant\n %s", strings.Join(got, " "), want)
		}
		if fs[0].Aliases[0] != "CVE-2018-18074" {
			t.Fatalf("aliases %v", fs[0].Aliases)
		}
	})
}

// Update downloads <url>/<ecosystem>/all.zip per ecosystem; one that fails
// is named and does not stop the others.
func TestUpdateFromMirror(t *testing.T) {
	mirror := http.NewServeMux()
	mirror.HandleFunc("GET /{eco}/all.zip", func(w http.ResponseWriter, r *http.Request) {
		if vulndbtest.Records[r.PathValue("eco")] == nil {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "all.zip", time.Time{}, bytes.NewReader(vulndbtest.Zip(t, r.PathValue("eco"))))
	})
	srv := httptest.NewServer(mirror)
	defer srv.Close()
	db := metatest.OpenSQLite(t)
	v := vulndb.New(db)
	res, err := v.Update(context.Background(), srv.Client(), srv.URL+"/", []string{"PyPI", "npm", "Nope"})
	if err == nil || !strings.Contains(err.Error(), "Nope") || len(res) != 2 || res[0].Source != "PyPI" || res[1].Advisories != 2 {
		t.Fatalf("update: %+v, %v", res, err)
	}
	total, _, _ := v.Status(context.Background())
	if total != 3 {
		t.Fatalf("%d advisories after update", total)
	}
}
