package scan_test

import (
	"archive/zip"
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/vulndb/vulndbtest"
)

const appPOM = `<?xml version="1.0"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example</groupId><artifactId>app</artifactId><version>1.0</version>
  <properties><log4j.version>2.14.1</log4j.version></properties>
  <dependencies>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>${log4j.version}</version></dependency>
  </dependencies>
</project>`

func moduleZip(t *testing.T, mod, version, gomod string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range map[string]string{"go.mod": gomod, "x.go": "package x\n"} {
		w, _ := zw.Create(mod + "@" + version + "/" + name)
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Maven files and Go module versions join scan on push: their own
// coordinates and the dependencies their pom or go.mod pins are matched
// against OSV's Maven and Go data, and the download policy refuses them
// in each protocol's own way.
func TestMavenAndGoScanOnPush(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		start(t, s)
		ctx := context.Background()
		for _, eco := range []string{"Maven", "Go"} {
			z := vulndbtest.Zip(t, eco)
			if _, err := s.Vulns.ImportZip(ctx, eco, bytes.NewReader(z), int64(len(z))); err != nil {
				t.Fatal(err)
			}
		}
		put := func(path string, body []byte) {
			t.Helper()
			resp, text := s.Do(t, "PUT", path, admin, bytes.NewReader(body))
			if resp.StatusCode != 201 {
				t.Fatalf("PUT %s: %d %s", path, resp.StatusCode, text)
			}
		}
		base := "/maven/maven-hosted/com/example/app/1.0/app-1.0"
		put(base+".pom", []byte(appPOM))
		put(base+".jar", []byte("PK jar bytes"))
		put(base+"-sources.jar", []byte("PK sources"))
		put("/go/go-hosted/example.com/app/@v/v1.0.0.zip", moduleZip(t, "example.com/app", "v1.0.0",
			"module example.com/app\n\ngo 1.21\n\nrequire golang.org/x/text v0.3.6\n"))

		jar := waitReport(t, s, "repository=maven-hosted&name=com.example:app&ref=com/example/app/1.0/app-1.0.jar")
		if got := advisories(jar); got != "GHSA-jfh8-c2jp-5v3q@org.apache.logging.log4j:log4j-core=2.14.1>2.15.0" || jar.Worst.String() != "Critical" {
			t.Fatalf("jar findings: %s (%v)", got, jar.Worst)
		}
		if len(jar.Components) != 2 || jar.Components[0].Name != "com.example:app" || jar.Components[0].PURL != "pkg:maven/com.example/app@1.0" {
			t.Fatalf("jar components: %+v", jar.Components)
		}
		pom := waitReport(t, s, "repository=maven-hosted&name=com.example:app&ref=com/example/app/1.0/app-1.0.pom")
		if advisories(pom) != advisories(jar) {
			t.Fatalf("pom findings: %s", advisories(pom))
		}
		mod := waitReport(t, s, "repository=go-hosted&name=example.com/app&ref=v1.0.0")
		if got := advisories(mod); got != "GHSA-ppp9-7jff-5vj2@golang.org/x/text=0.3.6>0.3.7" || mod.Worst.String() != "High" {
			t.Fatalf("module findings: %s (%v)", got, mod.Worst)
		}
		// Sources jars are not scanned; an on-demand scan of the
		// repository queues the jar and the pom only.
		resp, body := s.Do(t, "GET", "/api/v1/scan/report?repository=maven-hosted&name=com.example:app&ref=com/example/app/1.0/app-1.0-sources.jar", admin, nil)
		if resp.StatusCode != 404 {
			t.Fatalf("sources report: %d %s", resp.StatusCode, body)
		}
		resp, body = s.Do(t, "POST", "/api/v1/scan", "dev:dev-password-1234", strings.NewReader(`{"repository":"maven-hosted"}`), "Content-Type", "application/json")
		if resp.StatusCode != 202 || !strings.Contains(body, `"queued": 2`) {
			t.Fatalf("on-demand scan: %d %s", resp.StatusCode, body)
		}

		// The policy: mvn and go see a refusal naming the advisory.
		for _, repo := range []string{"maven-hosted", "go-hosted"} {
			resp, body = s.Do(t, "PATCH", "/api/v1/repositories/"+repo, admin, strings.NewReader(`{"settings":{"scan_policy":{"block_severity":"high"}}}`), "Content-Type", "application/json")
			if resp.StatusCode != 200 {
				t.Fatalf("policy of %s: %d %s", repo, resp.StatusCode, body)
			}
		}
		reader := "reader:reader-password-1234"
		for path, want := range map[string]string{
			base + ".jar": "GHSA-jfh8-c2jp-5v3q", base + ".pom": "GHSA-jfh8-c2jp-5v3q",
			"/go/go-hosted/example.com/app/@v/v1.0.0.zip": "GHSA-ppp9-7jff-5vj2",
		} {
			resp, body = s.Do(t, "GET", path, reader, nil)
			if resp.StatusCode != 403 || !strings.Contains(body, want) {
				t.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
			}
		}
		// What is not judged stays readable: sources, checksums, go.mod,
		// metadata; and admins read everything.
		for _, path := range []string{base + "-sources.jar", base + ".jar.sha1", "/go/go-hosted/example.com/app/@v/v1.0.0.mod",
			"/go/go-hosted/example.com/app/@v/list", "/maven/maven-hosted/com/example/app/maven-metadata.xml"} {
			if resp, body = s.Do(t, "GET", path, reader, nil); resp.StatusCode != 200 {
				t.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
			}
		}
		if resp, _ = s.Do(t, "GET", base+".jar", admin, nil); resp.StatusCode != 200 {
			t.Errorf("admin GET of the jar: %d", resp.StatusCode)
		}
	})
}
