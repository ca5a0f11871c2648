package maven

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestCompareVersions(t *testing.T) {
	ordered := []string{"1.0-alpha-1", "1.0-beta", "1.0-rc1", "1.0-SNAPSHOT", "1.0", "1.0-sp1", "1.0.1", "1.2", "1.10", "2.0-SNAPSHOT", "2.0", "10.0"}
	for i := range ordered {
		for j := range ordered {
			got := CompareVersions(ordered[i], ordered[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if (got < 0) != (want < 0) || (got > 0) != (want > 0) {
				t.Errorf("CompareVersions(%q, %q) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	if CompareVersions("1.0", "1") == 0 && CompareVersions("1", "1.0") == 0 {
		return
	}
	if CompareVersions("1.0", "1")*CompareVersions("1", "1.0") > 0 {
		t.Error("CompareVersions is not antisymmetric on 1.0 and 1")
	}
}

func TestMetadataRoundTripAndMerge(t *testing.T) {
	a := &Metadata{GroupID: "g", ArtifactID: "a", Versioning: Versioning{Latest: "1.1", Release: "1.1", Versions: []string{"1.0", "1.1"}, LastUpdated: "20260101000000"}}
	b := &Metadata{GroupID: "g", ArtifactID: "a", Versioning: Versioning{Latest: "2.0-SNAPSHOT", Release: "1.0", Versions: []string{"1.0", "2.0-SNAPSHOT"}, LastUpdated: "20260202000000"}}
	got, err := ParseMetadata(bytes.NewReader(a.Render()))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Versioning.Versions, a.Versioning.Versions) || got.Versioning.Latest != "1.1" || got.GroupID != "g" {
		t.Fatalf("round trip = %+v", got)
	}
	m := &Metadata{}
	m.Merge(a)
	m.Merge(b)
	v := m.Versioning
	if !slices.Equal(v.Versions, []string{"1.0", "1.1", "2.0-SNAPSHOT"}) || v.Latest != "2.0-SNAPSHOT" || v.Release != "1.1" || v.LastUpdated != "20260202000000" {
		t.Fatalf("merge = %+v", v)
	}
	s1 := &Metadata{Version: "1.0-SNAPSHOT", Versioning: Versioning{Snapshot: &Snapshot{Timestamp: "20260101.000000", BuildNumber: 1},
		SnapshotVersions: []SnapshotVersion{{Extension: "jar", Value: "1.0-20260101.000000-1", Updated: "20260101000000"}}}}
	s2 := &Metadata{Version: "1.0-SNAPSHOT", Versioning: Versioning{Snapshot: &Snapshot{Timestamp: "20260102.000000", BuildNumber: 2},
		SnapshotVersions: []SnapshotVersion{{Extension: "jar", Value: "1.0-20260102.000000-2", Updated: "20260102000000"},
			{Extension: "pom", Value: "1.0-20260102.000000-2", Updated: "20260102000000"}}}}
	m = &Metadata{}
	m.Merge(s1)
	m.Merge(s2)
	if m.Versioning.Snapshot.BuildNumber != 2 || len(m.Versioning.SnapshotVersions) != 2 || m.Versioning.SnapshotVersions[0].Value != "1.0-20260102.000000-2" {
		t.Fatalf("snapshot merge = %+v", m.Versioning)
	}
	p1 := &Metadata{Plugins: []Plugin{{Prefix: "dependency", ArtifactID: "maven-dependency-plugin"}}}
	p2 := &Metadata{Plugins: []Plugin{{Prefix: "dependency", ArtifactID: "other"}, {Prefix: "deploy", ArtifactID: "maven-deploy-plugin"}}}
	pm := &Metadata{}
	pm.Merge(p1)
	pm.Merge(p2)
	if len(pm.Plugins) != 2 || pm.Plugins[0].ArtifactID != "maven-dependency-plugin" || pm.Plugins[1].Prefix != "deploy" {
		t.Fatalf("plugin merge = %+v", pm.Plugins)
	}
	if back, err := ParseMetadata(bytes.NewReader(pm.Render())); err != nil || len(back.Plugins) != 2 {
		t.Fatalf("plugin metadata round trip = %+v, %v", back, err)
	}
	if !strings.Contains(string(m.Render()), "<buildNumber>2</buildNumber>") {
		t.Fatalf("render = %s", m.Render())
	}
}

func TestParseMetadataRefuses(t *testing.T) {
	for _, bad := range []string{"", "<project/>", "<metadata><versioning>", "not xml", "<metadata><versioning><snapshot><buildNumber>x</buildNumber></snapshot></versioning></metadata>"} {
		if _, err := ParseMetadata(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseMetadata(%q) succeeded", bad)
		}
	}
}

// FuzzParseMetadata checks that whatever parses renders to a document
// that parses to the same metadata, and merges without panicking.
func FuzzParseMetadata(f *testing.F) {
	f.Add(`<?xml version="1.0"?><metadata><groupId>g</groupId><artifactId>a</artifactId><versioning><latest>1.0</latest><versions><version>1.0</version></versions></versioning></metadata>`)
	f.Add(`<metadata modelVersion="1.1.0"><version>1.0-SNAPSHOT</version><versioning><snapshot><timestamp>20260101.000000</timestamp><buildNumber>3</buildNumber></snapshot><snapshotVersions><snapshotVersion><classifier>sources</classifier><extension>jar</extension><value>1.0-20260101.000000-3</value><updated>20260101000000</updated></snapshotVersion></snapshotVersions></versioning></metadata>`)
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMetadata(strings.NewReader(s))
		if err != nil {
			return
		}
		again, err := ParseMetadata(bytes.NewReader(m.Render()))
		if err != nil {
			t.Fatalf("rendered metadata does not parse: %v\n%s", err, m.Render())
		}
		if !bytes.Equal(again.Render(), m.Render()) {
			t.Fatalf("render is not stable:\n%s\n%s", m.Render(), again.Render())
		}
		var merged Metadata
		merged.Merge(m)
		merged.Merge(again)
		for _, v := range m.Versioning.Versions {
			if !slices.Contains(merged.Versioning.Versions, v) {
				t.Fatalf("merge lost version %q", v)
			}
		}
	})
}
