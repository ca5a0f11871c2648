package e2e

// End-to-end test of Maven repositories with the real gradle: a Java
// library is published with the maven-publish plugin to hosted
// repositories (a release and three snapshot builds), and a second
// project builds against it and a library of the Maven repository this
// machine's mvn is configured with (through a proxy), all through one
// group. Every Gradle run has a fresh GRADLE_USER_HOME, so nothing comes
// from a cache but what the test means to reuse.

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
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

const gradleTimeout = 10 * time.Minute

// gradleDebianFix is an init script for Debian's gradle 4.4.1, whose
// maven-publish runs on Maven Resolver but leaves Resolver's wagon
// transport off the plugin's class path: every publish to a remote
// repository fails with "No transporter factories registered". The script
// adds Debian's own copy of that jar; on any other Gradle it does nothing.
// It needs GRADLE_OPTS=--add-opens=java.base/java.net=ALL-UNNAMED on Java
// 9 and later. docs/maven.md gives the same script to users.
const gradleDebianFix = `def jar = new File('/usr/share/java/maven-resolver-transport-wagon.jar')
def loader = org.gradle.api.publish.maven.plugins.MavenPublishPlugin.classLoader
def has = { String name -> try { loader.loadClass(name); true } catch (ClassNotFoundException e) { false } }
if (jar.isFile() && has('org.eclipse.aether.connector.basic.BasicRepositoryConnectorFactory') &&
        !has('org.eclipse.aether.transport.wagon.WagonTransporterFactory')) {
    def addURL = java.net.URLClassLoader.getDeclaredMethod('addURL', java.net.URL)
    addURL.accessible = true
    addURL.invoke(loader, jar.toURI().toURL())
}
`

// gradleUserHome makes a fresh GRADLE_USER_HOME with the Debian fix in its
// init.d and the given gradle.properties.
func gradleUserHome(t *testing.T, properties string) string {
	home := t.TempDir()
	writeMvnFile(t, filepath.Join(home, "init.d", "debian-maven-publish.gradle"), gradleDebianFix)
	if properties != "" {
		writeMvnFile(t, filepath.Join(home, "gradle.properties"), properties)
	}
	return home
}

// gradleEnv is the test's environment with home as GRADLE_USER_HOME, no
// Gradle settings of the caller's, and extra.
func gradleEnv(home string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GRADLE_") && !strings.HasPrefix(kv, "ORG_GRADLE_PROJECT_") && !strings.HasPrefix(kv, "JAVA_TOOL_OPTIONS=") {
			env = append(env, kv)
		}
	}
	env = append(env, "GRADLE_USER_HOME="+home, "GRADLE_OPTS=--add-opens=java.base/java.net=ALL-UNNAMED")
	return append(env, extra...)
}

// gradle runs gradle without a daemon (and never --offline).
func gradle(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	return runCmd(t, gradleTimeout, dir, env, "gradle", append([]string{"--no-daemon", "--console=plain", "--stacktrace"}, args...)...)
}

// gradleLibrary writes the library com.example.gradle:greeter at version,
// whose Greeter.greeting() returns greeting, and which publishes itself
// (jar, sources jar, pom) to arca's releases or snapshots repository. Its
// gradle.properties names arca; the credentials come from the user's.
func gradleLibrary(t *testing.T, s *Server, version, greeting string) string {
	dir := t.TempDir()
	writeMvnFile(t, filepath.Join(dir, "settings.gradle"), "rootProject.name = 'greeter'\n")
	writeMvnFile(t, filepath.Join(dir, "gradle.properties"), fmt.Sprintf("arcaUrl=%s\nversion=%s\n", s.URL, version))
	writeMvnFile(t, filepath.Join(dir, "build.gradle"), `apply plugin: 'java'
apply plugin: 'maven-publish'

group = 'com.example.gradle'

task sourcesJar(type: Jar) {
    classifier = 'sources'
    from sourceSets.main.allJava
}

publishing {
    publications {
        library(MavenPublication) {
            from components.java
            artifact sourcesJar
        }
    }
    repositories {
        maven {
            name = 'arca'
            url = version.endsWith('-SNAPSHOT') ? "${arcaUrl}/maven/maven-snapshots/" : "${arcaUrl}/maven/maven-releases/"
            credentials {
                username = arcaUsername
                password = arcaPassword
            }
        }
    }
}
`)
	writeMvnFile(t, filepath.Join(dir, "src/main/java/com/example/gradle/Greeter.java"), fmt.Sprintf(`package com.example.gradle;
public class Greeter { public static String greeting() { return %q; } }
`, greeting))
	return dir
}

// gradleConsumer writes a project that compiles against greeter and
// commons-text (and so commons-lang3) from arca's group, and whose run
// task prints "consumer: " and what both say.
func gradleConsumer(t *testing.T, s *Server) string {
	dir := t.TempDir()
	writeMvnFile(t, filepath.Join(dir, "settings.gradle"), "rootProject.name = 'consumer'\n")
	writeMvnFile(t, filepath.Join(dir, "gradle.properties"), "arcaUrl="+s.URL+"\n")
	writeMvnFile(t, filepath.Join(dir, "build.gradle"), `apply plugin: 'java'
apply plugin: 'application'

mainClassName = 'consumer.Main'

repositories {
    maven {
        url "${arcaUrl}/maven/maven-public/"
        credentials {
            username = arcaUsername
            password = arcaPassword
        }
    }
}

dependencies {
    implementation "com.example.gradle:greeter:${greeterVersion}"
    implementation 'org.apache.commons:commons-text:1.10.0'
}

task copyDeps(type: Copy) {
    from configurations.runtimeClasspath
    into "$buildDir/deps"
}
`)
	writeMvnFile(t, filepath.Join(dir, "src/main/java/consumer/Main.java"), `package consumer;
import org.apache.commons.text.WordUtils;
public class Main {
    public static void main(String[] args) {
        System.out.println("consumer: " + WordUtils.capitalize(com.example.gradle.Greeter.greeting()));
    }
}
`)
	return dir
}

// consumerSays returns what the consumer's run task printed.
func consumerSays(t *testing.T, out string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^consumer: (.*)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the consumer printed nothing:\n%s", out)
	}
	return m[1]
}

func fileSums(t *testing.T, path string) (sha256sum, sha1sum, md5sum string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s2, s1, m5 := sha256.Sum256(b), sha1.Sum(b), md5.Sum(b)
	return hex.EncodeToString(s2[:]), hex.EncodeToString(s1[:]), hex.EncodeToString(m5[:])
}

// serverRequests returns the requests of a method in s's log from offset
// on: path -> the status of the last one.
func serverRequests(s *Server, method string, from int) map[string]string {
	re := regexp.MustCompile(`method=` + method + ` path=(\S+) status=(\d+)`)
	got := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(s.Log()[from:], -1) {
		got[m[1]] = m[2]
	}
	return got
}

func TestGradleClient(t *testing.T) {
	needTool(t, "gradle")
	needTool(t, "java")
	upstream := needMavenUpstream(t)

	s := StartServer(t, ServerOptions{})
	npmAPI(t, s, "POST", "/api/v1/repositories", `{"name":"maven-releases","format":"maven","kind":"hosted","settings":{"version_policy":"release"}}`, 201)
	npmAPI(t, s, "POST", "/api/v1/repositories", `{"name":"maven-snapshots","format":"maven","kind":"hosted","settings":{"version_policy":"snapshot"}}`, 201)
	npmAPI(t, s, "POST", "/api/v1/repositories", fmt.Sprintf(`{"name":"maven-central","format":"maven","kind":"proxy","settings":{"upstream":{"url":%q}}}`, upstream), 201)
	npmAPI(t, s, "POST", "/api/v1/repositories", `{"name":"maven-public","format":"maven","kind":"group","settings":{"members":["maven-releases","maven-snapshots","maven-central"]}}`, 201)
	_, pass, _ := strings.Cut(s.Cred(), ":")
	get := func(path string) []byte {
		t.Helper()
		r := curl(t, nil, "-u", s.Cred(), s.URL+path)
		wantStatus(t, r, 200, "GET "+path)
		return r.Body(t)
	}

	// Publishing: the credentials in the user's gradle.properties, as
	// Gradle's documentation keeps them.
	pubHome := gradleUserHome(t, "arcaUsername=admin\narcaPassword="+pass+"\n")
	publish := func(version, greeting string) (jar string) {
		t.Helper()
		dir := gradleLibrary(t, s, version, greeting)
		gradle(t, dir, gradleEnv(pubHome), "publish")
		return filepath.Join(dir, "build", "libs", "greeter-"+version+".jar")
	}
	logFrom := len(s.Log())
	relJar := publish("1.0", "hello from 1.0")

	// Every file and every checksum Gradle uploaded was accepted: arca
	// verifies a checksum against the stored file's digests and answers
	// 400 to a wrong one, which fails the publish.
	puts := serverRequests(s, "PUT", logFrom)
	seen := map[string]bool{}
	for path, status := range puts {
		if status != "201" && status != "200" {
			t.Errorf("PUT %s answered %s", path, status)
		}
		for _, algo := range []string{"md5", "sha1", "sha256", "sha512"} {
			if strings.HasSuffix(path, "."+algo) {
				seen[algo] = true
			}
		}
	}
	const rel = "/maven/maven-releases/com/example/gradle/greeter/1.0/"
	for _, f := range []string{"greeter-1.0.jar", "greeter-1.0-sources.jar", "greeter-1.0.pom"} {
		for _, suffix := range []string{"", ".sha1", ".md5"} {
			if puts[rel+f+suffix] != "201" {
				t.Errorf("PUT %s: %q, want 201 (all PUTs: %v)", rel+f+suffix, puts[rel+f+suffix], puts)
			}
		}
	}
	t.Logf("gradle uploaded checksums: %v", seen)
	// What arca serves is the bytes Gradle built, and its checksums are
	// the ones Gradle computed.
	wantSHA256, wantSHA1, wantMD5 := fileSums(t, relJar)
	if got := sha256Hex(get(rel + "greeter-1.0.jar")); got != wantSHA256 {
		t.Fatalf("arca serves greeter-1.0.jar with sha256 %s, gradle built %s", got, wantSHA256)
	}
	for algo, want := range map[string]string{"sha1": wantSHA1, "md5": wantMD5, "sha256": wantSHA256} {
		if got := strings.TrimSpace(string(get(rel + "greeter-1.0.jar." + algo))); got != want {
			t.Errorf("greeter-1.0.jar.%s = %s, want %s", algo, got, want)
		}
	}
	// A checksum that does not match is refused.
	r := curl(t, strings.NewReader(strings.Repeat("0", 40)), "-u", s.Cred(), "-X", "PUT", "--data-binary", "@-", s.URL+rel+"greeter-1.0.jar.sha1")
	wantStatus(t, r, 400, "PUT of a wrong sha1")

	// Snapshots: two builds, named with a timestamp and build number.
	logFrom = len(s.Log())
	publish("1.1-SNAPSHOT", "snapshot build 1")
	snap2Jar := publish("1.1-SNAPSHOT", "snapshot build 2")
	const snapDir = "/maven/maven-snapshots/com/example/gradle/greeter/1.1-SNAPSHOT/"
	puts = serverRequests(s, "PUT", logFrom)
	builds := map[string]bool{}
	for path, status := range puts {
		if status != "201" && status != "200" {
			t.Errorf("PUT %s answered %s", path, status)
		}
		if m := regexp.MustCompile(`^` + regexp.QuoteMeta(snapDir) + `greeter-1\.1-(\d{8}\.\d{6}-\d+)\.jar$`).FindStringSubmatch(path); m != nil {
			builds[m[1]] = true
		}
	}
	var md struct {
		Timestamp   string `xml:"versioning>snapshot>timestamp"`
		BuildNumber int    `xml:"versioning>snapshot>buildNumber"`
		Versions    []struct {
			Classifier string `xml:"classifier"`
			Extension  string `xml:"extension"`
			Value      string `xml:"value"`
		} `xml:"versioning>snapshotVersions>snapshotVersion"`
	}
	meta := get(snapDir + "maven-metadata.xml")
	if err := xml.Unmarshal(meta, &md); err != nil {
		t.Fatalf("snapshot metadata: %v\n%s", err, meta)
	}
	newest := "1.1-" + md.Timestamp + "-2"
	if md.BuildNumber != 2 || len(builds) != 2 || !builds[strings.TrimPrefix(newest, "1.1-")] {
		t.Fatalf("snapshot metadata (build %d, newest %s) does not match the builds gradle uploaded %v:\n%s", md.BuildNumber, newest, builds, meta)
	}
	files := map[string]string{}
	for _, v := range md.Versions {
		files[v.Classifier+"."+v.Extension] = v.Value
	}
	for _, k := range []string{".jar", ".pom", "sources.jar"} {
		if files[k] != newest {
			t.Errorf("snapshot metadata gives %s for %q, want %s:\n%s", files[k], k, newest, meta)
		}
	}
	snap2SHA256, _, _ := fileSums(t, snap2Jar)
	if got := sha256Hex(get(snapDir + "greeter-" + newest + ".jar")); got != snap2SHA256 {
		t.Fatalf("arca serves greeter-%s.jar with sha256 %s, gradle built %s", newest, got, snap2SHA256)
	}

	// Resolving through the group, from fresh Gradle homes, with the
	// credentials in the environment as a CI job passes them.
	creds := []string{"ORG_GRADLE_PROJECT_arcaUsername=admin", "ORG_GRADLE_PROJECT_arcaPassword=" + pass}
	consumer := gradleConsumer(t, s)
	// latest.release: Gradle reads the group's merged metadata, where
	// 1.1-SNAPSHOT is the latest and 1.0 the release.
	out := gradle(t, consumer, gradleEnv(gradleUserHome(t, ""), creds...), "build", "run", "copyDeps", "-PgreeterVersion=latest.release")
	if got := consumerSays(t, out); got != "Hello From 1.0" {
		t.Fatalf("release consumer printed %q", got)
	}
	deps := filepath.Join(consumer, "build", "deps")
	if got, _, _ := fileSums(t, filepath.Join(deps, "greeter-1.0.jar")); got != wantSHA256 {
		t.Fatalf("gradle downloaded greeter-1.0.jar with sha256 %s, it published %s", got, wantSHA256)
	}
	// The third-party jars are the upstream's bytes.
	for _, p := range []string{"org/apache/commons/commons-text/1.10.0/commons-text-1.10.0.jar", "org/apache/commons/commons-lang3/3.12.0/commons-lang3-3.12.0.jar"} {
		resp, err := (&http.Client{Timeout: time.Minute}).Get(upstream + p + ".sha1")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("upstream %s.sha1: %s", p, resp.Status)
		}
		upstreamSHA1 := strings.Fields(string(b) + " ")[0]
		if _, got, _ := fileSums(t, filepath.Join(deps, filepath.Base(p))); got != upstreamSHA1 {
			t.Fatalf("gradle downloaded %s with sha1 %s, upstream has %s", filepath.Base(p), got, upstreamSHA1)
		}
	}

	snapHome := gradleUserHome(t, "")
	out = gradle(t, consumer, gradleEnv(snapHome, creds...), "build", "run", "copyDeps", "-PgreeterVersion=1.1-SNAPSHOT")
	if got := consumerSays(t, out); got != "Snapshot Build 2" {
		t.Fatalf("snapshot consumer printed %q", got)
	}
	if got, _, _ := fileSums(t, filepath.Join(deps, "greeter-1.1-SNAPSHOT.jar")); got != snap2SHA256 {
		t.Fatalf("gradle downloaded the snapshot with sha256 %s, build 2 is %s", got, snap2SHA256)
	}

	// A new snapshot build: Gradle revalidates what it has cached with
	// HEAD requests (ETag, X-Checksum-Sha1) and fetches what changed.
	snap3Jar := publish("1.1-SNAPSHOT", "snapshot build 3")
	logFrom = len(s.Log())
	out = gradle(t, consumer, gradleEnv(snapHome, creds...), "build", "run", "copyDeps", "-PgreeterVersion=1.1-SNAPSHOT", "--refresh-dependencies")
	if got := consumerSays(t, out); got != "Snapshot Build 3" {
		t.Fatalf("snapshot consumer printed %q after build 3", got)
	}
	snap3SHA256, _, _ := fileSums(t, snap3Jar)
	if got, _, _ := fileSums(t, filepath.Join(deps, "greeter-1.1-SNAPSHOT.jar")); got != snap3SHA256 {
		t.Fatalf("gradle downloaded the snapshot with sha256 %s, build 3 is %s", got, snap3SHA256)
	}
	heads := serverRequests(s, "HEAD", logFrom)
	ok := 0
	for path, status := range heads {
		if strings.HasPrefix(path, "/maven/maven-public/") && status == "200" {
			ok++
		}
	}
	if ok == 0 {
		t.Fatalf("gradle --refresh-dependencies sent no HEAD request that arca answered 200: %v", heads)
	}
}

// TestGradleDebianFixDocumented keeps the init script of docs/maven.md the
// one this test runs.
func TestGradleDebianFixDocumented(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "maven.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```groovy\n"+gradleDebianFix+"```") {
		t.Fatalf("docs/maven.md does not show the init script gradle_test.go runs:\n%s", gradleDebianFix)
	}
}
