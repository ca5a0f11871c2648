package replication

import (
	"net/url"
	"testing"

	"github.com/arcaproject/arca/internal/audit"
)

func TestSplitImageRef(t *testing.T) {
	for in, want := range map[string][3]string{
		"app:v1":                       {"app", "v1", ""},
		"team/app:1.0":                 {"team/app", "1.0", ""},
		"app@sha256:abc":               {"app", "sha256:abc", "digest"},
		"host:5000/app":                {"", "", ""},
		"app":                          {"", "", ""},
		":v1":                          {"", "", ""},
		"team/app@sha256:0123:ignored": {"team/app", "sha256:0123:ignored", "digest"},
	} {
		image, ref, byDigest := splitImageRef(in)
		if image != want[0] || ref != want[1] || byDigest != (want[2] == "digest") {
			t.Errorf("splitImageRef(%q) = %q %q %v, want %v", in, image, ref, byDigest, want)
		}
	}
}

func TestChangesOf(t *testing.T) {
	cases := []struct {
		e    audit.Event
		want []Change
	}{
		{audit.Event{Action: "oci.manifest.push", Subject: "app@sha256:1", Detail: map[string]any{"tags": []string{"v1", "latest"}}},
			[]Change{{Item: "app:v1"}, {Item: "app:latest"}}},
		{audit.Event{Action: "oci.manifest.push", Subject: "app@sha256:1", Detail: map[string]any{"tags": []any{"v2"}}}, []Change{{Item: "app:v2"}}},
		{audit.Event{Action: "oci.manifest.push", Subject: "app@sha256:1"}, []Change{{Item: "app@sha256:1"}}},
		{audit.Event{Action: "oci.tag.delete", Subject: "app:v1"}, []Change{{Item: "app:v1", Deleted: true}}},
		{audit.Event{Action: "s3.put", Subject: "k"}, []Change{{Item: "k"}}},
		{audit.Event{Action: "s3.delete", Subject: "k", Detail: map[string]any{"version": "v"}}, nil},
		{audit.Event{Action: "s3.delete", Subject: "k"}, []Change{{Item: "k", Deleted: true}}},
		{audit.Event{Action: "npm.publish", Subject: "@a/b@1.0.0"}, []Change{{Item: "@a/b@1.0.0"}}},
		{audit.Event{Action: "pypi.delete", Subject: "p/p-1.whl"}, []Change{{Item: "p/p-1.whl", Deleted: true}}},
		{audit.Event{Action: "go.publish", Subject: "example.com/a/v2@v2.0.1"}, []Change{{Item: "example.com/a/v2@v2.0.1"}}},
		{audit.Event{Action: "go.delete", Subject: "example.com/a@v1.0.0"}, []Change{{Item: "example.com/a@v1.0.0", Deleted: true}}},
		{audit.Event{Action: "helm.upload", Subject: "web-app-1.0.0-2.0.0", Detail: map[string]any{"chart": "web-app", "version": "1.0.0-2.0.0"}},
			[]Change{{Item: "web-app@1.0.0-2.0.0"}}},
		{audit.Event{Action: "helm.provenance", Subject: "x", Detail: map[string]any{"chart": "x", "version": "0.1.0"}}, []Change{{Item: "x@0.1.0"}}},
		{audit.Event{Action: "helm.replace", Subject: "my-chart-2-1.2.3-rc.1"}, []Change{{Item: "my-chart-2@1.2.3-rc.1"}}},
		{audit.Event{Action: "helm.delete", Subject: "nginx-15.0.1", Detail: map[string]any{"digest": "sha256:0"}}, []Change{{Item: "nginx@15.0.1", Deleted: true}}},
		{audit.Event{Action: "helm.delete", Subject: "noversion"}, nil},
		{audit.Event{Action: "maven.delete", Subject: "org/x/lib/1.0-SNAPSHOT/lib-1.0-20260101.000001-1.jar", Detail: map[string]any{"reason": "snapshot_keep"}},
			[]Change{{Item: "org/x/lib/1.0-SNAPSHOT/lib-1.0-20260101.000001-1.jar", Deleted: true}}},
		{audit.Event{Action: "user.create", Subject: "x"}, nil},
		{audit.Event{Action: "oci.blob.push", Subject: "app@sha256:1"}, nil},
	}
	for _, c := range cases {
		got := changesOf(c.e)
		if len(got) != len(c.want) {
			t.Errorf("%s %s = %+v, want %+v", c.e.Action, c.e.Subject, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s %s = %+v, want %+v", c.e.Action, c.e.Subject, got, c.want)
			}
		}
	}
}

func TestSplitNPM(t *testing.T) {
	for in, want := range map[string][2]string{"left-pad@1.0.0": {"left-pad", "1.0.0"}, "@a/b@2.0.0": {"@a/b", "2.0.0"}, "@a/b": {"@a/b", ""}, "x": {"x", ""}} {
		if n, v := splitNPM(in); n != want[0] || v != want[1] {
			t.Errorf("splitNPM(%q) = %q %q", in, n, v)
		}
	}
}

func TestMatchAny(t *testing.T) {
	if !matchAny(nil, "anything") || !matchAny([]string{"web/*"}, "web/api") || matchAny([]string{"web/*"}, "web/a/b") ||
		!matchAny([]string{"v1.*", "latest"}, "latest") || matchAny([]string{"v1.*"}, "v2.0") {
		t.Fatal("matchAny")
	}
}

// FuzzDecodePolicy: an admin's policy JSON never panics the decoder or the
// checks, and what passes them has a valid name, direction and URL, and
// patterns that match without error.
func FuzzDecodePolicy(f *testing.F) {
	f.Add([]byte(`{"name":"a","repository":"library","direction":"push","remote":{"url":"https://r.example"},"filter":{"names":["web/*"],"versions":["v*"]}}`), "oci")
	f.Add([]byte(`{"name":"b","direction":"pull","remote":{"url":"s3://eu-west-1","repository":"bkt"},"schedule":"1h","bandwidth_limit":4096}`), "s3")
	f.Add([]byte(`{"name":"c","direction":"push","remote":{"url":"http://u:p@h"}}`), "raw")
	f.Add([]byte(`{"filter":{"names":["[a-"]}}`), "npm")
	f.Fuzz(func(t *testing.T, b []byte, format string) {
		p, err := decodePolicy(b)
		if err != nil {
			return
		}
		p.Format = format
		if p.validate() != nil {
			return
		}
		if !nameRE.MatchString(p.Name) || (p.Direction != Push && p.Direction != Pull) {
			t.Fatalf("accepted %+v", p)
		}
		if u, err := url.Parse(p.Remote.URL); err != nil || u.User != nil || u.Host == "" ||
			(u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "s3") {
			t.Fatalf("accepted remote.url %q", p.Remote.URL)
		}
		for _, pat := range append(append([]string{}, p.Filter.Names...), p.Filter.Versions...) {
			matchAny([]string{pat}, "x/y:z")
		}
		p.interval()
	})
}

// FuzzEventParsing: what an audit event's subject and detail hold (names
// clients chose) never panics the mapping to changes or the splitting of
// references.
func FuzzEventParsing(f *testing.F) {
	f.Add("oci.manifest.push", "team/app@sha256:00", "v1")
	f.Add("oci.tag.delete", "app:v1", "")
	f.Add("npm.unpublish", "@scope/name@1.0.0", "")
	f.Add("pypi.upload", "proj/file.whl", "")
	f.Fuzz(func(t *testing.T, action, subject, tag string) {
		for _, c := range changesOf(audit.Event{Action: action, Subject: subject, Detail: map[string]any{"tags": []any{tag}}}) {
			splitImageRef(c.Item)
			splitNPM(c.Item)
		}
	})
}

func TestParseHelmIndex(t *testing.T) {
	ix, err := parseHelmIndex([]byte(`apiVersion: v1
entries:
  web:
  - name: web
    version: 1.2.0
    digest: ABCDEF
    urls: [charts/web-1.2.0.tgz]
  - name: other
    version: 1.0.0
    urls: [charts/other-1.0.0.tgz]
  - name: web
    version: 0.9.0
  - name: web
    version: ../x
    urls: [x]
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]helmChart{"web@1.2.0": {Name: "web", Version: "1.2.0", Digest: "abcdef", URL: "charts/web-1.2.0.tgz"}}
	if len(ix) != len(want) || ix["web@1.2.0"] != want["web@1.2.0"] {
		t.Fatalf("parseHelmIndex = %+v, want %+v", ix, want)
	}
	for _, bad := range []string{"entries: [", "entries: 3", "- a"} {
		if _, err := parseHelmIndex([]byte(bad)); err == nil {
			t.Errorf("parseHelmIndex(%q) took it", bad)
		}
	}
}

// FuzzParseHelmIndex: a remote's index.yaml never panics the parser, and
// every entry it keeps is one path segment by name and version.
func FuzzParseHelmIndex(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nentries:\n  a:\n  - {name: a, version: 1.0.0, urls: [charts/a-1.0.0.tgz], digest: '00'}\n"))
	f.Add([]byte("entries: {a: [{name: a}]}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ix, err := parseHelmIndex(b)
		if err != nil {
			return
		}
		for k, c := range ix {
			if k != c.Name+"@"+c.Version || !helmNameOK(c.Name) || !helmNameOK(c.Version) || c.URL == "" {
				t.Fatalf("kept %q: %+v", k, c)
			}
		}
	})
}
