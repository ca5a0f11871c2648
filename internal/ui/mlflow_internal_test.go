package ui

import (
	"encoding/binary"
	"math"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/arcaproject/arca/internal/mlflow/search"
)

func TestArtifactKeyPrefix(t *testing.T) {
	for _, c := range []struct {
		uri, want string
		ok        bool
	}{
		{"mlflow-artifacts:/1/abc/artifacts", "1/abc/artifacts/", true},
		{"mlflow-artifacts:/1/abc/artifacts/", "1/abc/artifacts/", true},
		{"mlflow-artifacts://host:5000/1/abc/artifacts", "1/abc/artifacts/", true},
		{"mlflow-artifacts:/", "", true},
		{"s3://bucket/1/abc", "", false},
		{"file:///tmp/x", "", false},
	} {
		got, ok := artifactKeyPrefix(c.uri)
		if got != c.want || ok != c.ok {
			t.Errorf("artifactKeyPrefix(%q) = %q, %v; want %q, %v", c.uri, got, ok, c.want, c.ok)
		}
	}
}

func TestCleanArtifactPath(t *testing.T) {
	for p, ok := range map[string]bool{
		"": true, "a": true, "a/b.txt": true, "model/MLmodel": true, "a b/c": true,
		"/a": false, "a/": false, "a//b": false, "../x": false, "a/../b": false, "./a": false, "a/.": false,
	} {
		if _, err := cleanArtifactPath(p); (err == nil) != ok {
			t.Errorf("cleanArtifactPath(%q): %v, want ok=%v", p, err, ok)
		}
	}
}

func TestRunsQueryParsing(t *testing.T) {
	q, _ := url.ParseQuery("metrics=acc,loss&metrics=acc&params=lr&sort=metrics.acc")
	m, p := chosenColumns(q, []string{"a", "b", "c", "d", "e"}, []string{"x"})
	if strings.Join(m, ",") != "acc,loss" || strings.Join(p, ",") != "lr" {
		t.Errorf("chosen columns %v %v", m, p)
	}
	m, p = chosenColumns(url.Values{}, []string{"a", "b", "c", "d", "e"}, []string{"x", "y", "z", "w"})
	if strings.Join(m, ",") != "a,b,c,d" || strings.Join(p, ",") != "x,y,z" {
		t.Errorf("default columns %v %v", m, p)
	}
	if m, p = chosenColumns(url.Values{"cols": {"1"}}, []string{"a"}, []string{"x"}); len(m)+len(p) != 0 {
		t.Errorf("no columns chosen, got %v %v", m, p)
	}
	for query, want := range map[string]string{
		"":                            "attributes.start_time DESC",
		"sort=metrics.acc":            "metrics.`acc` DESC",
		"sort=metrics.acc&dir=asc":    "metrics.`acc` ASC",
		"sort=params.lr":              "params.`lr` ASC",
		"sort=run_name":               "attributes.run_name ASC",
		"sort=status&dir=desc":        "attributes.status DESC",
		"sort=metrics.":               "attributes.start_time DESC",
		"sort=nonsense":               "attributes.start_time DESC",
		"sort=metrics.my%20key.x%2Fy": "metrics.`my key.x/y` DESC",
	} {
		q, _ := url.ParseQuery(query)
		key, desc := runsSort(q)
		got, err := orderClause(key, desc)
		if err != nil || got != want {
			t.Errorf("%q: order %q (%v), want %q", query, got, err, want)
			continue
		}
		if _, err := search.Runs(search.RunsRequest{OrderBy: []string{got}}); err != nil {
			t.Errorf("%q: search rejects %q: %v", query, got, err)
		}
	}
}

func TestDurationAndValues(t *testing.T) {
	for _, c := range []struct {
		r    runRow
		want string
	}{
		{runRow{Start: 1000, End: 1850, Status: "FINISHED"}, "850 ms"},
		{runRow{Start: 0, End: 12_300, Status: "FINISHED"}, ""},
		{runRow{Start: 1000, End: 13_300, Status: "FINISHED"}, "12.3 s"},
		{runRow{Start: 1000, End: 1000 + 245_000, Status: "FINISHED"}, "4 min 5 s"},
		{runRow{Start: 1000, End: 1000 + 7_380_000, Status: "FINISHED"}, "2 h 3 min"},
		{runRow{Start: 1000, End: 1000 + 100*3_600_000, Status: "FINISHED"}, "4 d 4 h"},
		{runRow{Start: 1000, Status: "FAILED"}, ""},
	} {
		if got := c.r.Duration(); got != c.want {
			t.Errorf("%+v: duration %q, want %q", c.r, got, c.want)
		}
	}
	for v, want := range map[float64]string{1: "1", 0.1234567: "0.123457", 1e-9: "1e-09", math.Inf(1): "Infinity", 123456789: "123456789"} {
		if got := (latestMetric{Value: v}).Text(); got != want {
			t.Errorf("Text(%v) = %q, want %q", v, got, want)
		}
	}
	if (latestMetric{NaN: true}).Text() != "NaN" {
		t.Error("NaN")
	}
	for src, want := range map[string]string{
		`{"uri": "s3://b/k"}`:                          "s3://b/k",
		`{"tags": {"mlflow.source.name": "train.py"}}`: "train.py",
		"plain":                  "plain",
		strings.Repeat("é", 200): strings.Repeat("é", 150) + "…",
	} {
		if got := (datasetRow{Source: src}).SourceText(); got != want {
			t.Errorf("SourceText(%q) = %q, want %q", src, got, want)
		}
	}
}

// FuzzRunsQuery: whatever a URL asks for, the columns and the order the
// runs table derives are sane and the order is one MLflow accepts.
func FuzzRunsQuery(f *testing.F) {
	for _, s := range []string{"", "sort=metrics.acc&dir=asc&metrics=a,b", "sort=params.%60x%60", "metrics=,,,&params=%00", "sort=metrics.a%20b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		m, p := chosenColumns(q, []string{"a"}, []string{"b"})
		if len(m) > 50 || len(p) > 50 {
			t.Fatalf("%d metric and %d param columns", len(m), len(p))
		}
		key, desc := runsSort(q)
		clause, err := orderClause(key, desc)
		if err != nil {
			return // a key with a backtick cannot be quoted
		}
		if key == "duration" {
			return
		}
		if _, err := search.Runs(search.RunsRequest{OrderBy: []string{clause}}); err != nil && utf8.ValidString(key) {
			t.Fatalf("sort %q gives order_by %q that search rejects: %v", key, clause, err)
		}
	})
}

// FuzzCleanArtifactPath: an accepted path has no empty, "." or ".."
// segment and does not start or end with a slash.
func FuzzCleanArtifactPath(f *testing.F) {
	for _, s := range []string{"", "a/b", "../a", "a//b", "/x", "a/./b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := cleanArtifactPath(p)
		if err != nil || got == "" {
			return
		}
		if strings.HasPrefix(got, "/") || strings.HasSuffix(got, "/") {
			t.Fatalf("accepted %q", got)
		}
		for _, seg := range strings.Split(got, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("accepted %q", got)
			}
		}
	})
}

// FuzzLineChart: any values and names give well-formed XML without NaN
// or Inf coordinates.
func FuzzLineChart(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 240, 63}, "run <a>", uint8(3))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 248, 127, 0, 0, 0, 0, 0, 0, 240, 127}, "\x00\x01&", uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, name string, series uint8) {
		n := len(data) / 8
		vals := make([]float64, n)
		for i := range n {
			vals[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[i*8:]))
		}
		c := LineChart{ID: "f", Title: name, XLabel: name}
		k := int(series%4) + 1
		for s := range k {
			var xs, ys []float64
			for i := s; i+1 < len(vals); i += 2 * k {
				xs, ys = append(xs, vals[i]), append(ys, vals[i+1])
			}
			c.Series = append(c.Series, ChartSeries{Name: name, X: xs, Y: ys})
		}
		out := string(c.SVG())
		parseSVG(t, out)
		if strings.Contains(out, "NaN") || strings.Contains(out, "Inf") {
			if !strings.Contains(name, "NaN") && !strings.Contains(name, "Inf") {
				t.Fatalf("NaN or Inf in the SVG:\n%s", out)
			}
		}
	})
}
