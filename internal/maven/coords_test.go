package maven

import (
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Path
	}{
		{"com/example/app/1.0/app-1.0.jar", Path{Key: "com/example/app/1.0/app-1.0.jar", Kind: KindFile, GroupID: "com.example",
			ArtifactID: "app", Version: "1.0", File: "app-1.0.jar", Extension: "jar"}},
		{"com/example/app/1.0/app-1.0-sources.jar.sha1", Path{Key: "com/example/app/1.0/app-1.0-sources.jar", Kind: KindFile,
			GroupID: "com.example", ArtifactID: "app", Version: "1.0", File: "app-1.0-sources.jar", Checksum: "sha1",
			Classifier: "sources", Extension: "jar"}},
		{"com/example/app/1.0/app-1.0.pom.asc", Path{Key: "com/example/app/1.0/app-1.0.pom.asc", Kind: KindFile, GroupID: "com.example",
			ArtifactID: "app", Version: "1.0", File: "app-1.0.pom.asc", Extension: "pom.asc"}},
		{"org/x/lib/2.0-SNAPSHOT/lib-2.0-20261206.210000-3-javadoc.jar.sha512", Path{Key: "org/x/lib/2.0-SNAPSHOT/lib-2.0-20261206.210000-3-javadoc.jar",
			Kind: KindFile, GroupID: "org.x", ArtifactID: "lib", Version: "2.0-SNAPSHOT", File: "lib-2.0-20261206.210000-3-javadoc.jar",
			Checksum: "sha512", Classifier: "javadoc", Extension: "jar", Timestamp: "20261206.210000", Build: 3}},
		{"org/x/lib/2.0-SNAPSHOT/lib-2.0-SNAPSHOT.tar.gz", Path{Key: "org/x/lib/2.0-SNAPSHOT/lib-2.0-SNAPSHOT.tar.gz", Kind: KindFile,
			GroupID: "org.x", ArtifactID: "lib", Version: "2.0-SNAPSHOT", File: "lib-2.0-SNAPSHOT.tar.gz", Extension: "tar.gz"}},
		{"org/x/lib/maven-metadata.xml", Path{Key: "org/x/lib/maven-metadata.xml", Kind: KindArtifactMeta, GroupID: "org.x", ArtifactID: "lib",
			File: "maven-metadata.xml"}},
		{"org/x/lib/maven-metadata.xml.md5", Path{Key: "org/x/lib/maven-metadata.xml", Kind: KindArtifactMeta, GroupID: "org.x", ArtifactID: "lib",
			File: "maven-metadata.xml", Checksum: "md5"}},
		{"org/x/lib/2.0-SNAPSHOT/maven-metadata.xml", Path{Key: "org/x/lib/2.0-SNAPSHOT/maven-metadata.xml", Kind: KindVersionMeta,
			GroupID: "org.x", ArtifactID: "lib", Version: "2.0-SNAPSHOT", File: "maven-metadata.xml"}},
	} {
		got, err := ParsePath(tc.in)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParsePath(%q) =\n %+v, want\n %+v", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{
		"", "a", "a/b/c", "a/b/1.0/other-1.0.jar", "a/b/1.0/b-1.1.jar", "a/b/1.0/b-1.0", "a/b/1.0/b-1.0.", "a/b/1.0/b-1.0-.jar",
		"a/b/1.0/b-1.0-sources", "a/../b/1.0/b-1.0.jar", "a//b/1.0/b-1.0.jar", "a/b/1.0/.b-1.0.jar", "a/b%2fc/1.0/b%2fc-1.0.jar",
		"a/b/1.0-SNAPSHOT/b-1.0-20261206.21000-1.jar", "a/b/1.0-SNAPSHOT/b-1.0-20261206.210000-x.jar", "a/b/1.0-SNAPSHOT/b-1.0-20261206.210000-0.jar",
		"maven-metadata.xml", "a/maven-metadata.xml", "a/b/1.0/b-1.0.jar.sha1.sha1x/", "a b/c/1.0/c-1.0.jar", strings.Repeat("a/", 600) + "x",
	} {
		if p, err := ParsePath(bad); err == nil {
			t.Errorf("ParsePath(%q) = %+v, want an error", bad, p)
		}
	}
}

func TestSnapshotValue(t *testing.T) {
	p, err := ParsePath("g/a/1.0-SNAPSHOT/a-1.0-20260101.000000-12.pom")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.SnapshotValue(); got != "1.0-20260101.000000-12" {
		t.Errorf("SnapshotValue = %q", got)
	}
}

// FuzzParsePath checks that whatever parses names the same file again: its
// key reparses to the same coordinates, and the key is the input without
// its checksum suffix.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"com/example/app/1.0/app-1.0.jar", "org/x/lib/2.0-SNAPSHOT/lib-2.0-20261206.210000-3-javadoc.jar.sha512",
		"org/x/lib/maven-metadata.xml.sha1", "org/x/lib/2.0-SNAPSHOT/maven-metadata.xml", "a/b/1.0/b-1.0-x.tar.gz.asc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			return
		}
		want := s
		if p.Checksum != "" {
			want = strings.TrimSuffix(s, "."+p.Checksum)
		}
		if p.Key != want {
			t.Fatalf("ParsePath(%q).Key = %q, want %q", s, p.Key, want)
		}
		q, err := ParsePath(p.Key)
		if err != nil {
			t.Fatalf("key %q of %q does not parse: %v", p.Key, s, err)
		}
		p.Checksum = ""
		if q != p {
			t.Fatalf("ParsePath(%q) = %+v; its key parses to %+v", s, p, q)
		}
		if strings.Contains(p.Key, "..") && strings.Contains(p.Key, "/../") || p.GroupID == "" || p.ArtifactID == "" {
			t.Fatalf("ParsePath(%q) = %+v", s, p)
		}
		if p.Kind == KindFile && (p.Extension == "" || !strings.HasPrefix(p.File, p.ArtifactID+"-")) {
			t.Fatalf("ParsePath(%q) = %+v: a file without extension or artifactId", s, p)
		}
	})
}
