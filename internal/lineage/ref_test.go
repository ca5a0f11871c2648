package lineage

import (
	"strings"
	"testing"
)

const (
	sha = "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	md5 = "0123456789abcdef0123456789abcdef"
)

func TestParseRef(t *testing.T) {
	good := []struct {
		in   string
		want Ref
		out  string // canonical form, when not in
	}{
		{"oci:library/team/api@" + sha, Ref{Kind: KindImage, Repo: "library", Name: "team/api", Digest: sha}, ""},
		{"oci:library/api:v1.2", Ref{Kind: KindImage, Repo: "library", Name: "api", Tag: "v1.2"}, ""},
		{"oci:library/host:5000/api:latest", Ref{Kind: KindImage, Repo: "library", Name: "host:5000/api", Tag: "latest"}, ""},
		{"mlflow-run:0a1b2c3d", Ref{Kind: KindRun, Name: "0a1b2c3d"}, ""},
		{"logged-model:m-abc123", Ref{Kind: KindLoggedModel, Name: "m-abc123"}, ""},
		{"model:iris/3", Ref{Kind: KindModelVersion, Name: "iris", Version: 3}, ""},
		{"model:team/iris/12", Ref{Kind: KindModelVersion, Name: "team/iris", Version: 12}, ""},
		{"dataset:8f3c2a1b", Ref{Kind: KindDataset, Name: "8f3c2a1b"}, ""},
		{"s3:dvc-storage/files/md5/01/23", Ref{Kind: KindS3, Repo: "dvc-storage", Name: "files/md5/01/23"}, ""},
		{"s3:b/a//b", Ref{Kind: KindS3, Repo: "b", Name: "a//b"}, ""},
		{"raw:files/data/train.csv", Ref{Kind: KindRaw, Repo: "files", Name: "data/train.csv"}, ""},
		{"dvc-md5:" + md5, Ref{Kind: KindDVC, Name: md5}, ""},
		{"dvc-md5:" + strings.ToUpper(md5) + ".dir", Ref{Kind: KindDVC, Name: md5 + ".dir"}, "dvc-md5:" + md5 + ".dir"},
	}
	for _, c := range good {
		r, err := ParseRef(c.in)
		if err != nil {
			t.Errorf("ParseRef(%q): %v", c.in, err)
			continue
		}
		if r != c.want {
			t.Errorf("ParseRef(%q) = %+v, want %+v", c.in, r, c.want)
		}
		want := c.out
		if want == "" {
			want = c.in
		}
		if r.String() != want {
			t.Errorf("ParseRef(%q).String() = %q, want %q", c.in, r.String(), want)
		}
	}
	for _, bad := range []string{"", "oci", "oci:", "oci:library", "oci:library/api", "oci:library/api@sha256:12",
		"oci:library/../api:v1", "oci:/api:v1", "oci:library/api:-x", "mlflow-run:", "mlflow-run:-x", "mlflow-run:a b",
		"logged-model:abc", "model:iris", "model:iris/0", "model:iris/01", "model:/3", "dataset:a/b", "dataset:",
		"s3:bucket", "s3:/key", "raw:files/a/../b", "raw:files/", "dvc-md5:xyz", "dvc-md5:" + md5 + "0",
		"nope:x", "oci:library/api:v1\n", "s3:b/\x00", strings.Repeat("s3:b/k", 1000)} {
		if r, err := ParseRef(bad); err == nil {
			t.Errorf("ParseRef(%q) = %+v, want an error", bad, r)
		}
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"oci:library/api@" + sha, "oci:library/api:v1", "model:iris/3", "mlflow-run:abc",
		"logged-model:m-1", "dataset:x", "s3:b/k", "raw:r/p/q", "dvc-md5:" + md5 + ".dir", "oci:a/b:c:d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			return
		}
		again, err := ParseRef(r.String())
		if err != nil {
			t.Fatalf("ParseRef(%q) = %+v, whose String %q does not parse: %v", s, r, r.String(), err)
		}
		if again != r {
			t.Fatalf("ParseRef(%q) = %+v, but its String %q parses to %+v", s, r, r.String(), again)
		}
		if len(Label(r)) == 0 {
			t.Fatalf("no label for %q", s)
		}
	})
}

func TestParsePointer(t *testing.T) {
	cases := []struct {
		in    string
		want  string
		alias string
	}{
		{"models:/iris/3", "model:iris/3", ""},
		{"models:/iris@champion", "model:iris/0", "champion"},
		{"models:/iris/Production", "model:iris/0", "Production"},
		{"models:/m-0123abcd", "logged-model:m-0123abcd", ""},
		{"runs:/0a1b2c/model", "mlflow-run:0a1b2c", ""},
		{"runs:/0a1b2c", "mlflow-run:0a1b2c", ""},
		{"s3://dvc-storage/files/md5/ab/cd", "s3:dvc-storage/files/md5/ab/cd", ""},
		{"dataset:abc", "dataset:abc", ""},
		{" model:iris/2 ", "model:iris/2", ""},
	}
	for _, c := range cases {
		p, ok := ParsePointer(c.in)
		if !ok || p.Ref.String() != c.want || p.Alias != c.alias {
			t.Errorf("ParsePointer(%q) = %+v (%s), %v; want %s alias %q", c.in, p, p.Ref, ok, c.want, c.alias)
		}
	}
	for _, bad := range []string{"", "https://github.com/org/repo", "models:/", "models:/iris", "models:/iris/0",
		"runs:/", "runs://x", "s3://", "s3://bucket", "models:/@x", "git@github.com:org/repo.git"} {
		if p, ok := ParsePointer(bad); ok {
			t.Errorf("ParsePointer(%q) = %+v, want nothing", bad, p)
		}
	}
}

func TestParseDatasetSource(t *testing.T) {
	cases := map[string]string{
		`{"uri": "s3://dvc-storage/files/md5/ab/cdef"}`:            "s3:dvc-storage/files/md5/ab/cdef",
		`{"url": "https://arca.example/raw/files/data/train.csv"}`: "raw:files/data/train.csv",
		`s3://bucket/key.csv`:                                      "s3:bucket/key.csv",
		`{"uri": "dvc-md5:` + md5 + `"}`:                           "dvc-md5:" + md5,
	}
	for in, want := range cases {
		if r, ok := ParseDatasetSource(in); !ok || r.String() != want {
			t.Errorf("ParseDatasetSource(%s) = %s, %v; want %s", in, r, ok, want)
		}
	}
	for _, bad := range []string{`{}`, `{"uri": "gs://b/k"}`, `{"url": "https://example.com/data.csv"}`, `{"uri": "runs:/abc/data"}`,
		`{"url": "https://h/raw/files/../x"}`, `not json`} {
		if r, ok := ParseDatasetSource(bad); ok {
			t.Errorf("ParseDatasetSource(%s) = %s, want nothing", bad, r)
		}
	}
}

func FuzzParsePointer(f *testing.F) {
	for _, s := range []string{"models:/iris/3", "models:/iris@c", "runs:/abc/x", "s3://b/k", "model:iris/1",
		`{"uri": "s3://b/k"}`, `{"url": "http://h/raw/r/p"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if p, ok := ParsePointer(s); ok && p.Alias == "" {
			if _, err := ParseRef(p.Ref.String()); err != nil {
				t.Fatalf("ParsePointer(%q) = %+v, whose String does not parse: %v", s, p.Ref, err)
			}
		}
		if r, ok := ParseDatasetSource(s); ok {
			if _, err := ParseRef(r.String()); err != nil {
				t.Fatalf("ParseDatasetSource(%q) = %+v, whose String does not parse: %v", s, r, err)
			}
		}
	})
}
