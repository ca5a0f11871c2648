package e2e

// End-to-end test of Maven repositories with the real mvn: a two-module
// project is deployed (a release, then two snapshot builds) into hosted
// repositories, and consumer projects are built from fresh local
// repositories through a group of the hosted repositories and a proxy of
// the Maven repository this machine's mvn is configured with. Every
// request of mvn, plugins included, goes to arca (a mirror of "*"), so the
// builds show that arca alone serves them.

import (
	"archive/zip"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const mvnTimeout = 10 * time.Minute

// Plugin versions the projects pin (Maven 3.8's defaults are older than
// what the deploy of several files per module needs).
const mvnPlugins = `
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-resources-plugin</artifactId><version>3.3.1</version></plugin>
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-compiler-plugin</artifactId><version>3.13.0</version></plugin>
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-surefire-plugin</artifactId><version>3.5.2</version></plugin>
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-jar-plugin</artifactId><version>3.4.2</version></plugin>
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-source-plugin</artifactId><version>3.3.1</version>
        <executions><execution><id>attach-sources</id><goals><goal>jar-no-fork</goal></goals></execution></executions></plugin>
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-install-plugin</artifactId><version>3.1.3</version></plugin>
      <plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-deploy-plugin</artifactId><version>3.1.3</version></plugin>`

// mavenUpstream is the repository this machine's mvn resolves from: the
// URL of a mirror of "*" or "central" in ~/.m2/settings.xml, or else the
// central repository of Maven's super POM, read from Maven's own
// model-builder jar. "" if neither is found.
func mavenUpstream(t *testing.T) string {
	if home, err := os.UserHomeDir(); err == nil {
		if b, err := os.ReadFile(filepath.Join(home, ".m2", "settings.xml")); err == nil {
			var s struct {
				Mirrors []struct {
					MirrorOf string `xml:"mirrorOf"`
					URL      string `xml:"url"`
				} `xml:"mirrors>mirror"`
			}
			if xml.Unmarshal(b, &s) == nil {
				for _, m := range s.Mirrors {
					if m.MirrorOf == "*" || strings.Contains(m.MirrorOf, "central") {
						return m.URL
					}
				}
			}
		}
	}
	out, err := runCmdErr(time.Minute, t.TempDir(), os.Environ(), "mvn", "--version")
	if err != nil {
		return ""
	}
	m := regexp.MustCompile(`Maven home: (.*)`).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	jars, _ := filepath.Glob(filepath.Join(strings.TrimSpace(m[1]), "lib", "maven-model-builder*.jar"))
	for _, j := range jars {
		zr, err := zip.OpenReader(j)
		if err != nil {
			continue
		}
		defer zr.Close()
		f, err := zr.Open("org/apache/maven/model/pom-4.0.0.xml")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(f)
		var pom struct {
			Repos []struct {
				ID  string `xml:"id"`
				URL string `xml:"url"`
			} `xml:"repositories>repository"`
		}
		if xml.Unmarshal(b, &pom) == nil {
			for _, r := range pom.Repos {
				if r.ID == "central" {
					return r.URL
				}
			}
		}
	}
	return ""
}

// needMavenUpstream returns mavenUpstream with a trailing slash, and
// skips the test (fails it under CI) when there is none or it does not
// answer.
func needMavenUpstream(t *testing.T) string {
	t.Helper()
	upstream := mavenUpstream(t)
	if upstream == "" {
		missing(t, "no Maven repository configured for mvn on this machine")
	}
	if !strings.HasSuffix(upstream, "/") {
		upstream += "/"
	}
	probe := &http.Client{Timeout: 20 * time.Second}
	resp, err := probe.Get(upstream + "org/apache/maven/plugins/maven-deploy-plugin/maven-metadata.xml")
	if err != nil {
		missing(t, "the Maven repository mvn is configured with does not answer (%v)", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		missing(t, "the Maven repository mvn is configured with answers %s", resp.Status)
	}
	return upstream
}

// mvnSettings writes a settings.xml that mirrors every repository to url
// with the admin's credentials, and returns its path. The profile turns
// snapshots on for central, which the mirror stands in for (a mirror
// takes the policies of the repositories it mirrors).
func mvnSettings(t *testing.T, s *Server, url string) string {
	_, pass, _ := strings.Cut(s.Cred(), ":")
	path := filepath.Join(t.TempDir(), "settings.xml")
	writeMvnFile(t, path, fmt.Sprintf(`<settings>
  <servers>
    <server><id>arca</id><username>admin</username><password>%s</password></server>
  </servers>
  <mirrors>
    <mirror><id>arca</id><mirrorOf>*</mirrorOf><url>%s</url></mirror>
  </mirrors>
  <profiles>
    <profile>
      <id>arca</id>
      <repositories>
        <repository><id>central</id><url>http://central</url><releases><enabled>true</enabled></releases><snapshots><enabled>true</enabled></snapshots></repository>
      </repositories>
      <pluginRepositories>
        <pluginRepository><id>central</id><url>http://central</url><releases><enabled>true</enabled></releases><snapshots><enabled>true</enabled></snapshots></pluginRepository>
      </pluginRepositories>
    </profile>
  </profiles>
  <activeProfiles><activeProfile>arca</activeProfile></activeProfiles>
</settings>
`, pass, url))
	return path
}

func writeMvnFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// mvnProject writes the two-module project com.example.e2e:{parent,core,app}
// at version, deploying releases and snapshots to arca's hosted
// repositories. core's Greeting.hello returns greeting.
func mvnProject(t *testing.T, s *Server, version, greeting string) string {
	dir := t.TempDir()
	writeMvnFile(t, filepath.Join(dir, "pom.xml"), fmt.Sprintf(`<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example.e2e</groupId>
  <artifactId>parent</artifactId>
  <version>%[1]s</version>
  <packaging>pom</packaging>
  <modules><module>core</module><module>app</module></modules>
  <properties>
    <maven.compiler.release>17</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <build><pluginManagement><plugins>%[2]s
  </plugins></pluginManagement>
  <plugins><plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-source-plugin</artifactId></plugin></plugins></build>
  <distributionManagement>
    <repository><id>arca</id><url>%[3]s/maven/maven-releases/</url></repository>
    <snapshotRepository><id>arca</id><url>%[3]s/maven/maven-snapshots/</url></snapshotRepository>
  </distributionManagement>
</project>
`, version, mvnPlugins, s.URL))
	module := func(name, deps, src string) {
		writeMvnFile(t, filepath.Join(dir, name, "pom.xml"), fmt.Sprintf(`<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent><groupId>com.example.e2e</groupId><artifactId>parent</artifactId><version>%s</version></parent>
  <artifactId>%s</artifactId>
  <dependencies>%s</dependencies>
</project>
`, version, name, deps))
		writeMvnFile(t, filepath.Join(dir, name, "src/main/java/com/example/e2e", strings.ToUpper(name[:1])+name[1:]+".java"), src)
	}
	module("core", "", fmt.Sprintf(`package com.example.e2e;
public class Core { public static String hello() { return %q; } }
`, greeting))
	module("app", `<dependency><groupId>com.example.e2e</groupId><artifactId>core</artifactId><version>${project.version}</version></dependency>`,
		`package com.example.e2e;
public class App { public static String run() { return "app says " + Core.hello(); } }
`)
	return dir
}

// mvnConsumer writes a project that depends on com.example.e2e:app:version
// and whose Main calls it.
func mvnConsumer(t *testing.T, version string) string {
	dir := t.TempDir()
	writeMvnFile(t, filepath.Join(dir, "pom.xml"), fmt.Sprintf(`<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>com.example.consumer</groupId>
  <artifactId>consumer</artifactId>
  <version>1</version>
  <properties><maven.compiler.release>17</maven.compiler.release><project.build.sourceEncoding>UTF-8</project.build.sourceEncoding></properties>
  <dependencies><dependency><groupId>com.example.e2e</groupId><artifactId>app</artifactId><version>%s</version></dependency></dependencies>
  <build><pluginManagement><plugins>%s
  </plugins></pluginManagement></build>
</project>
`, version, mvnPlugins))
	writeMvnFile(t, filepath.Join(dir, "src/main/java/consumer/Main.java"), `package consumer;
public class Main { public static void main(String[] a) { System.out.println(com.example.e2e.App.run()); } }
`)
	return dir
}

// mvn runs mvn in batch mode with settings and its own local repository.
func mvn(t *testing.T, dir, settings, localRepo string, args ...string) string {
	t.Helper()
	full := append([]string{"-B", "-e", "-ntp", "-s", settings, "-Dmaven.repo.local=" + localRepo}, args...)
	return runCmd(t, mvnTimeout, dir, os.Environ(), "mvn", full...)
}

// runJava runs consumer.Main with the consumer's jar and its resolved
// dependencies from localRepo on the class path.
func runConsumer(t *testing.T, dir, localRepo string, jars ...string) string {
	t.Helper()
	cp := []string{filepath.Join(dir, "target", "classes")}
	for _, j := range jars {
		cp = append(cp, filepath.Join(localRepo, j))
	}
	return strings.TrimSpace(runCmd(t, time.Minute, dir, os.Environ(), "java", "-cp", strings.Join(cp, string(os.PathListSeparator)), "consumer.Main"))
}

func TestMavenClient(t *testing.T) {
	needTool(t, "mvn")
	needTool(t, "java")
	upstream := needMavenUpstream(t)

	s := StartServer(t, ServerOptions{})
	npmAPI(t, s, "POST", "/api/v1/repositories", `{"name":"maven-releases","format":"maven","kind":"hosted","settings":{"version_policy":"release"}}`, 201)
	npmAPI(t, s, "POST", "/api/v1/repositories", `{"name":"maven-snapshots","format":"maven","kind":"hosted","settings":{"version_policy":"snapshot"}}`, 201)
	npmAPI(t, s, "POST", "/api/v1/repositories", fmt.Sprintf(`{"name":"maven-central","format":"maven","kind":"proxy","settings":{"upstream":{"url":%q}}}`, upstream), 201)
	npmAPI(t, s, "POST", "/api/v1/repositories", `{"name":"maven-public","format":"maven","kind":"group","settings":{"members":["maven-releases","maven-snapshots","maven-central"]}}`, 201)
	settings := mvnSettings(t, s, s.URL+"/maven/maven-public/")

	// Deploy a release of the two-module project, then two snapshot builds.
	deployRepo := filepath.Join(t.TempDir(), "m2-deploy")
	mvn(t, mvnProject(t, s, "1.0.0", "hello 1.0.0"), settings, deployRepo, "deploy")
	mvn(t, mvnProject(t, s, "1.1.0-SNAPSHOT", "snapshot build 1"), settings, deployRepo, "deploy")
	mvn(t, mvnProject(t, s, "1.1.0-SNAPSHOT", "snapshot build 2"), settings, deployRepo, "deploy")

	// What arca now serves: its metadata, checksums and files.
	get := func(path string) string {
		r := curl(t, nil, "-u", s.Cred(), s.URL+path)
		wantStatus(t, r, 200, "GET "+path)
		return string(r.Body(t))
	}
	meta := get("/maven/maven-public/com/example/e2e/core/maven-metadata.xml")
	for _, want := range []string{"<version>1.0.0</version>", "<version>1.1.0-SNAPSHOT</version>", "<release>1.0.0</release>", "<latest>1.1.0-SNAPSHOT</latest>"} {
		if !strings.Contains(meta, want) {
			t.Fatalf("core's metadata lacks %s:\n%s", want, meta)
		}
	}
	snap := get("/maven/maven-snapshots/com/example/e2e/core/1.1.0-SNAPSHOT/maven-metadata.xml")
	if !strings.Contains(snap, "<buildNumber>2</buildNumber>") || !strings.Contains(snap, "<classifier>sources</classifier>") {
		t.Fatalf("core's snapshot metadata:\n%s", snap)
	}
	for _, path := range []string{"core/1.0.0/core-1.0.0.jar", "core/1.0.0/core-1.0.0-sources.jar", "app/1.0.0/app-1.0.0.pom", "parent/1.0.0/parent-1.0.0.pom"} {
		get("/maven/maven-releases/com/example/e2e/" + path)
		if sha1 := get("/maven/maven-releases/com/example/e2e/" + path + ".sha1"); len(sha1) != 40 {
			t.Fatalf("%s.sha1 = %q", path, sha1)
		}
	}
	// Redeploying a release is refused.
	out, err := runCmdErr(mvnTimeout, mvnProject(t, s, "1.0.0", "changed"), os.Environ(), "mvn", "-B", "-ntp", "-s", settings, "-Dmaven.repo.local="+deployRepo, "deploy")
	if err == nil || !strings.Contains(out, "409") {
		t.Fatalf("redeploying 1.0.0 succeeded or failed otherwise: %v\n%s", err, out)
	}

	// Consumers resolve everything, plugins included, from a fresh local
	// repository through the group: the release, and the newest snapshot.
	useRepo := filepath.Join(t.TempDir(), "m2-use")
	rel := mvnConsumer(t, "1.0.0")
	mvn(t, rel, settings, useRepo, "package")
	if got := runConsumer(t, rel, useRepo, "com/example/e2e/app/1.0.0/app-1.0.0.jar", "com/example/e2e/core/1.0.0/core-1.0.0.jar"); got != "app says hello 1.0.0" {
		t.Fatalf("release consumer printed %q", got)
	}
	snapUse := mvnConsumer(t, "1.1.0-SNAPSHOT")
	mvn(t, snapUse, settings, useRepo, "package")
	if got := runConsumer(t, snapUse, useRepo, "com/example/e2e/app/1.1.0-SNAPSHOT/app-1.1.0-SNAPSHOT.jar", "com/example/e2e/core/1.1.0-SNAPSHOT/core-1.1.0-SNAPSHOT.jar"); got != "app says snapshot build 2" {
		t.Fatalf("snapshot consumer printed %q", got)
	}
	// A single artifact, as mvn dependency:get fetches it: the plugin's
	// prefix is resolved through the group's merged plugin metadata.
	getRepo := filepath.Join(t.TempDir(), "m2-get")
	mvn(t, t.TempDir(), settings, getRepo, "dependency:get", "-Dartifact=com.example.e2e:core:1.0.0")
	if _, err := os.Stat(filepath.Join(getRepo, "com/example/e2e/core/1.0.0/core-1.0.0.jar")); err != nil {
		t.Fatalf("mvn dependency:get did not download core: %v", err)
	}
}
