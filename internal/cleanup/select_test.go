package cleanup

import (
	"testing"
	"time"
)

func TestSelectItems(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	day := int64(24 * time.Hour / time.Millisecond)
	at := func(daysAgo int) int64 { return now.UnixMilli() - int64(daysAgo)*day }
	s := New(Deps{Now: func() time.Time { return now }})
	items := func() []*Item {
		return []*Item{
			{Name: "pkg", Version: "1.0", CreatedAt: at(100), group: "pkg", Size: 10},
			{Name: "pkg", Version: "1.1rc1", CreatedAt: at(50), group: "pkg", Prerelease: true, Size: 20},
			{Name: "pkg", Version: "1.1", CreatedAt: at(40), LastDownloadAt: at(1), group: "pkg", Size: 30},
			{Name: "pkg", Version: "2.0", CreatedAt: at(2), group: "pkg", Size: 40},
			{Name: "other", Version: "0.1", CreatedAt: at(300), group: "other", Size: 50},
			{Name: "img", Version: "sha256:1", CreatedAt: at(30), group: "img", tagged: true},
			{Name: "img", Version: "sha256:2", Tags: []string{"v1"}, CreatedAt: at(31), group: "img", tagged: true},
		}
	}
	names := func(c Criteria) []string {
		var out []string
		for _, it := range s.selectItems(c, items()) {
			out = append(out, it.Name+"@"+it.Version)
		}
		return out
	}
	for _, c := range []struct {
		name string
		c    Criteria
		want string
	}{
		{"older than", Criteria{OlderThanDays: 45}, "other@0.1 pkg@1.1rc1 pkg@1.0"},
		{"not downloaded", Criteria{NotDownloadedDays: 10}, "img@sha256:1 img@sha256:2 other@0.1 pkg@1.1rc1 pkg@1.0"},
		{"keep last", Criteria{KeepLast: 2, Name: "pkg"}, "pkg@1.1rc1 pkg@1.0"},
		{"prerelease", Criteria{Prerelease: true}, "pkg@1.1rc1"},
		{"version pattern", Criteria{OlderThanDays: 1, Version: "1.*"}, "pkg@1.1 pkg@1.1rc1 pkg@1.0"},
		{"keep versions", Criteria{OlderThanDays: 1, Name: "pkg", KeepVersions: []string{"1.1*"}}, "pkg@2.0 pkg@1.0"},
		{"size", Criteria{MinSizeBytes: 35}, "other@0.1 pkg@2.0"},
		{"untagged", Criteria{Untagged: true}, "img@sha256:1"},
		{"tag pattern", Criteria{OlderThanDays: 1, Version: "v*"}, "img@sha256:2"},
	} {
		got := names(c.c)
		if j := join(got); j != c.want {
			t.Errorf("%s: got %q, want %q", c.name, j, c.want)
		}
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

func TestValidate(t *testing.T) {
	bad := []Policy{
		{Name: "x", Format: "raw"},                                                     // no criterion
		{Name: "X", Format: "raw", Criteria: Criteria{KeepLast: 1}},                    // name
		{Name: "x", Format: "conda", Criteria: Criteria{KeepLast: 1}},                  // format
		{Name: "x", Format: "raw", Criteria: Criteria{OlderThanDays: -1}},              // negative
		{Name: "x", Format: "raw", Criteria: Criteria{Untagged: true}},                 // OCI only
		{Name: "x", Format: "raw", Criteria: Criteria{KeepLast: 1, Name: "[unclosed"}}, // pattern
	}
	for _, p := range bad {
		if err := p.Validate(); err == nil {
			t.Errorf("%+v validated", p)
		}
	}
	ok := Policy{Name: "snapshots", Format: "maven", Criteria: Criteria{Prerelease: true, OlderThanDays: 7}}
	if err := ok.Validate(); err != nil {
		t.Error(err)
	}
}

func FuzzValidate(f *testing.F) {
	f.Add("p", "raw", "*.bin", "v*", 1, 0)
	f.Fuzz(func(t *testing.T, name, format, pat, ver string, keep, days int) {
		p := Policy{Name: name, Format: format, Criteria: Criteria{Name: pat, Version: ver, KeepLast: keep, OlderThanDays: days}}
		if p.Validate() == nil {
			s := New(Deps{})
			s.selectItems(p.Criteria, []*Item{{Name: pat, Version: ver, group: "g"}})
		}
	})
}

func TestArtifactKey(t *testing.T) {
	for uri, want := range map[string]string{
		"mlflow-artifacts:/1/abc/artifacts":             "1/abc/artifacts",
		"mlflow-artifacts://host:5000/1/abc/artifacts/": "1/abc/artifacts",
		"mlflow-artifacts:///1/abc/artifacts":           "1/abc/artifacts",
		"s3://bucket/1/abc/artifacts":                   "",
		"mlflow-artifacts:/":                            "",
		"file:///tmp/mlruns/1/abc/artifacts":            "",
	} {
		got, ok := artifactKey(uri)
		if got != want || ok != (want != "") {
			t.Errorf("artifactKey(%q) = %q, %v; want %q", uri, got, ok, want)
		}
	}
}

// FuzzArtifactKey: run artifact URIs come from clients (MLflow runs).
func FuzzArtifactKey(f *testing.F) {
	f.Add("mlflow-artifacts:/1/abc/artifacts")
	f.Add("mlflow-artifacts://h/x")
	f.Fuzz(func(t *testing.T, uri string) {
		k, ok := artifactKey(uri)
		if ok && (k == "" || k[0] == '/' || k[len(k)-1] == '/') {
			t.Fatalf("artifactKey(%q) = %q", uri, k)
		}
	})
}
