package mlflow

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitURI(t *testing.T) {
	for _, c := range []struct{ in, scheme, authority, path string }{
		{"s3://bucket/a/b", "s3", "bucket", "/a/b"},
		{"models:/m-1", "models", "", "/m-1"},
		{"Models:/x/1?q=1#f", "models", "", "/x/1"},
		{"mlflow-artifacts://host:5000/0/r", "mlflow-artifacts", "host:5000", "/0/r"},
		{"/tmp/x", "", "", "/tmp/x"},
		{"relative/x", "", "", "relative/x"},
		{"1abc:/x", "", "", "1abc:/x"},
		{"a_b:/x", "", "", "a_b:/x"},
		{"file:///tmp/x", "file", "", "/tmp/x"},
		{"s3://bucket", "s3", "bucket", ""},
	} {
		s, a, p := splitURI(c.in)
		if s != c.scheme || a != c.authority || p != c.path {
			t.Errorf("splitURI(%q) = %q %q %q, want %q %q %q", c.in, s, a, p, c.scheme, c.authority, c.path)
		}
	}
}

func TestParseModelsURI(t *testing.T) {
	for _, c := range []struct {
		in   string
		want modelsURI
		ok   bool
	}{
		{"models:/m-abc", modelsURI{LoggedModelID: "m-abc"}, true},
		{"models:/name/12", modelsURI{Name: "name", Version: "12"}, true},
		{"models:/name/Production", modelsURI{Name: "name", Stage: "Production"}, true},
		{"models:/name/LATEST", modelsURI{Name: "name"}, true},
		{"models:/name@champ", modelsURI{Name: "name", Alias: "champ"}, true},
		{"models:/a@b@c", modelsURI{Name: "a@b", Alias: "c"}, true},
		{"models:/name@", modelsURI{}, false},
		{"models:/", modelsURI{}, false},
		{"models:", modelsURI{}, false},
		{"models://host/name/1", modelsURI{}, false},
		{"models:/a/b/c", modelsURI{}, false},
		{"models:/ /1", modelsURI{}, false},
		{"models:/name/ ", modelsURI{}, false},
		{"runs:/x/y", modelsURI{}, false},
	} {
		got, ok := parseModelsURI(c.in)
		if ok != c.ok || got != c.want {
			t.Errorf("parseModelsURI(%q) = %+v %v, want %+v %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestParseRunsURI(t *testing.T) {
	for _, c := range []struct {
		in, run, path string
		ok            bool
	}{
		{"runs:/abc/model", "abc", "model", true},
		{"runs:/abc/a/b/", "abc", "a/b/", true},
		{"runs:/abc", "abc", "", true},
		{"runs://abc/model", "", "", false},
		{"runs:/", "", "", false},
		{"runs://", "", "", false},
		{"runs:/ /x", " ", "x", true},
		{"models:/abc", "", "", false},
	} {
		run, path, ok := parseRunsURI(c.in)
		if run != c.run || path != c.path || ok != c.ok {
			t.Errorf("parseRunsURI(%q) = %q %q %v", c.in, run, path, ok)
		}
	}
}

func TestSourceEscapesRoot(t *testing.T) {
	for in, want := range map[string]bool{
		"s3://b/x":                          false,
		"s3://b/x/":                         false,
		"s3://b//x":                         false,
		"mlflow-artifacts:/0/r/artifacts/m": false,
		"https://h/api/2.0/mlflow-artifacts/artifacts/0/r": false,
		"s3://b/../x":          true,
		"s3://b/x/..":          true,
		"s3://b/%2e%2e/x":      true,
		"s3://b/%252e%252e/x":  true,
		"s3://b/%2e%2e%2fx":    true,
		"s3://b/%zz/%2e%2e/x":  true,
		"s3://b/./x":           true,
		"s3://b/x%00":          true,
		"s3://b":               true,
		"s3://b/":              true,
		"mlflow-artifacts:0/r": true,
		"s3://b/a+b/c":         false,
		"s3://b/x?../../etc":   true,
	} {
		if got := sourceEscapesRoot(in); got != want {
			t.Errorf("sourceEscapesRoot(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestURIWithin(t *testing.T) {
	root := "mlflow-artifacts:/0/run/artifacts"
	for in, want := range map[string]bool{
		root:                                 true,
		root + "/model":                      true,
		"mlflow-artifacts:/0/run/artifacts/": true,
		"mlflow-artifacts:/0/run/artifactsX/model":   false,
		"mlflow-artifacts:/0/run":                    false,
		"mlflow-artifacts://other/0/run/artifacts/m": false,
		"s3:/0/run/artifacts/m":                      false,
		"mlflow-artifacts:/0/run/%61rtifacts/m":      true,
		"MLFLOW-ARTIFACTS:/0/run/artifacts/m":        true,
	} {
		if got := uriWithin(in, root); got != want {
			t.Errorf("uriWithin(%q) = %v, want %v", in, got, want)
		}
	}
	if uriWithin("s3://b/x", "s3://b") {
		t.Errorf("a root without a path contains nothing")
	}
}

func TestIsProxiedArtifactSource(t *testing.T) {
	for in, want := range map[string]bool{
		"mlflow-artifacts:/0/r":                                   true,
		"http://host/mlflow/api/2.0/mlflow-artifacts/artifacts/0": true,
		"https://host/api/2.0/mlflow-artifacts/artifacts":         true,
		"http://host/api/2.0/mlflow-artifacts/x":                  false,
		"s3://b/api/2.0/mlflow-artifacts/artifacts":               false,
	} {
		if got := isProxiedArtifactSource(in); got != want {
			t.Errorf("isProxiedArtifactSource(%q) = %v", in, got)
		}
	}
}

func TestModelPathNorm(t *testing.T) {
	for in, want := range map[string]string{
		"":          ".",
		"a":         "a",
		"a/":        "a",
		"a//b":      "a/b",
		"a/./b":     "a/b",
		"a/../b":    "b",
		"../a":      "../a",
		"a/../../b": "../b",
		"/../a":     "/a",
		"//a":       "//a",
		"///a":      "/a",
		"..":        "..",
		".":         ".",
		"/":         "/",
	} {
		if got := modelPathNorm(in); got != want {
			t.Errorf("modelPathNorm(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRegistryValidation(t *testing.T) {
	for name, ok := range map[string]bool{
		"m": true, "my model.v2": true, "模型": true, "..": false, ".": false, "..x": false, "x..": true,
		"a/b": false, "a:b": false, "": false, " ": false,
	} {
		if err := validateModelName(name, "name"); (err == nil) != ok {
			t.Errorf("validateModelName(%q) = %v", name, err)
		}
	}
	for key, ok := range map[string]bool{
		"k": true, "a/b": true, "a b:c-d_e.f": true, "é": true, "a//b": false, "/a": false, "a/": false,
		"a/./b": false, "../a": false, "a$b": false, "": false,
	} {
		if err := validateRegistryTag(key, "v"); (err == nil) != ok {
			t.Errorf("validateRegistryTag(%q) = %v", key, err)
		}
	}
	if validateRegistryTag(strings.Repeat("k", 250), strings.Repeat("v", 100_000)) != nil {
		t.Errorf("limits are inclusive")
	}
	if validateRegistryTag("k", strings.Repeat("é", 100_001)) == nil {
		t.Errorf("value over 100000 characters accepted")
	}
	for alias, ok := range map[string]bool{"champion": true, "a-b_c": true, "ünï": true, "v1x": true, "latest": false, "LaTeSt": false, "v1": false, "V22": false} {
		err := validateAliasName(alias)
		if err == nil {
			err = validateAliasSettable(alias)
		}
		if (err == nil) != ok {
			t.Errorf("alias %q: %v", alias, err)
		}
	}
	for in, want := range map[string]string{"none": "None", "STAGING": "Staging", "Production": "Production", "archived": "Archived"} {
		if got, err := canonicalStage(in); err != nil || got != want {
			t.Errorf("canonicalStage(%q) = %q %v", in, got, err)
		}
	}
	if _, err := canonicalStage("Deleted_Internal"); err == nil {
		t.Errorf("internal stage accepted")
	}
}

// FuzzVersionSource runs the source parsers on arbitrary input: they must
// not panic, must agree with each other, and a source they accept never
// decodes to a ".." segment.
func FuzzVersionSource(f *testing.F) {
	for _, s := range []string{"models:/m-abc", "models:/n/1", "models:/n@a", "runs:/r/p", "s3://b/x", "mlflow-artifacts:/0/r/artifacts/m",
		"http://h/api/2.0/mlflow-artifacts/artifacts/x", "s3://b/%2e%2e/x", "file:///x", "/x", "", "%", "models://", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		scheme, _, _ := splitURI(s)
		if u, ok := parseModelsURI(s); ok {
			if scheme != "models" || (u.LoggedModelID == "") == (u.Name == "") {
				t.Fatalf("parseModelsURI(%q) = %+v", s, u)
			}
		}
		if run, _, ok := parseRunsURI(s); ok && (scheme != "runs" || run == "") {
			t.Fatalf("parseRunsURI(%q) = %q", s, run)
		}
		if !sourceEscapesRoot(s) {
			for _, seg := range strings.Split(unquoteFully(s, true), "/") {
				if seg == ".." {
					t.Fatalf("accepted %q has a .. segment", s)
				}
			}
		}
		uriWithin(s, "mlflow-artifacts:/0/r/artifacts")
		isProxiedArtifactSource(s)
		isLocalSource(s)
	})
}

// FuzzRegistryNames runs the name, tag and alias validators on arbitrary
// input: accepted names resolve to themselves.
func FuzzRegistryNames(f *testing.F) {
	for _, s := range []string{"m", "a/b", "..", "./x", "a//b", "v1", "latest", "é", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if validateModelName(s, "name") == nil {
			if modelPathNorm(s) != s || strings.ContainsAny(s, "/:") {
				t.Fatalf("accepted model name %q", s)
			}
		}
		if validateRegistryTag(s, s) == nil && (modelPathNorm(s) != s || utf8.RuneCountInString(s) > maxRegistryTagKey) {
			t.Fatalf("accepted tag key %q", s)
		}
		if validateAliasName(s) == nil && validateAliasSettable(s) == nil && strings.EqualFold(s, aliasLatest) {
			t.Fatalf("accepted alias %q", s)
		}
		canonicalStage(s)
		parseVersionNumber(idText(s))
	})
}
