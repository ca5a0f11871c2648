package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReplicationGoHelmE2E: two arca processes; push policies on the
// first's Go and Helm repositories copy what `arca go publish` and a
// chart upload put there to the second, where the real go command builds
// a program from the replicated module and helm pulls the replicated
// chart, byte for byte; a deleted chart version leaves the replica.
func TestReplicationGoHelmE2E(t *testing.T) {
	gobin := needTool(t, "go")
	h := newHelmClient(t)
	primary := StartServer(t, ServerOptions{})
	replica := StartServer(t, ServerOptions{})

	// The go command sends no credentials over plain HTTP: the replica's
	// Go repository is public (as docs/go.md says).
	r := curl(t, strings.NewReader(`{"visibility":"public"}`), "-u", replica.Cred(), "-X", "PATCH", "-H", "Content-Type: application/json",
		"--data-binary", "@-", replica.URL+"/api/v1/repositories/go-hosted")
	wantStatus(t, r, 200, "make the replica's go-hosted public")
	_, secret, _ := strings.Cut(replica.Cred(), ":")
	for _, repo := range []string{"go-hosted", "helm-hosted"} {
		policy := fmt.Sprintf(`{"name":"%s-dr","repository":%q,"direction":"push","on_event":true,"deletes":true,
			"remote":{"url":%q,"repository":%q,"username":"admin","password":%q}}`, repo, repo, replica.URL, repo, secret)
		r := curl(t, strings.NewReader(policy), "-u", primary.Cred(), "-X", "POST", "-H", "Content-Type: application/json",
			"--data-binary", "@-", primary.URL+"/api/v1/replication/policies")
		wantStatus(t, r, 201, "create the "+repo+" policy")
	}

	// A module published to the primary with arca go publish.
	const mod = "example.com/arca/e2e/replicated"
	dir := t.TempDir()
	mustWriteGo(t, filepath.Join(dir, "go.mod"), "module "+mod+"\n\ngo 1.22\n")
	mustWriteGo(t, filepath.Join(dir, "r.go"), "package replicated\n\n// Where says where it came from.\nfunc Where() string { return \"from the primary\" }\n")
	out := runCmd(t, time.Minute, dir, os.Environ(), arcaBin, "go", "publish", ".", "v1.0.0", "--url", primary.URL, "--user", "admin", "--token", adminPassword)
	f := strings.Fields(out)
	if len(f) < 4 || !strings.HasPrefix(f[3], "h1:") {
		t.Fatalf("arca go publish: %q", out)
	}
	h1 := f[3]
	// A chart packaged by helm and uploaded to the primary as cm-push does.
	chart := h.pkg("shipped", "0.3.0")
	r = curl(t, nil, "-u", primary.Cred(), "-F", "chart=@"+chart, primary.URL+"/helm/helm-hosted/api/charts")
	wantStatus(t, r, 201, "upload the chart")

	waitFor(t, 30*time.Second, "the replica has the module and the chart", func() bool {
		g := curl(t, nil, replica.URL+"/go/go-hosted/"+mod+"/@v/list")
		ix := curl(t, nil, "-u", replica.Cred(), replica.URL+"/helm/helm-hosted/index.yaml")
		return g.Status == 200 && strings.Contains(string(g.Body(t)), "v1.0.0") && ix.Status == 200 && strings.Contains(string(ix.Body(t)), "0.3.0")
	})

	// The go command builds against the replica alone.
	work := t.TempDir()
	env := goEnv(work, replica.URL+"/go/go-hosted", "")
	app := filepath.Join(work, "app")
	mustWriteGo(t, filepath.Join(app, "go.mod"), "module example.com/consumer\n\ngo 1.22\n\nrequire "+mod+" v1.0.0\n")
	mustWriteGo(t, filepath.Join(app, "main.go"), "package main\n\nimport (\n\t\"fmt\"\n\n\t\""+mod+"\"\n)\n\nfunc main() { fmt.Println(replicated.Where()) }\n")
	runCmd(t, goTimeout, app, env, gobin, "mod", "download")
	runCmd(t, goTimeout, app, env, gobin, "build", "-o", filepath.Join(work, "app.bin"), ".")
	if out := runCmd(t, time.Minute, app, env, filepath.Join(work, "app.bin")); strings.TrimSpace(out) != "from the primary" {
		t.Fatalf("the program printed %q", out)
	}
	if sums, _ := os.ReadFile(filepath.Join(app, "go.sum")); !strings.Contains(string(sums), mod+" v1.0.0 "+h1) {
		t.Fatalf("go.sum from the replica lacks the primary's hash %s:\n%s", h1, sums)
	}

	// helm pulls the replicated chart, the bytes uploaded to the primary.
	h.run("repo", "add", "replica", replica.URL+"/helm/helm-hosted", "--username", "admin", "--password", secret)
	h.run("repo", "update")
	pulled := filepath.Join(h.dir, "pulled")
	if err := os.MkdirAll(pulled, 0o755); err != nil {
		t.Fatal(err)
	}
	h.run("pull", "replica/shipped", "--version", "0.3.0", "-d", pulled)
	if a, b := fileBytes(t, chart), fileBytes(t, filepath.Join(pulled, "shipped-0.3.0.tgz")); a != b {
		t.Fatal("helm pull from the replica brought other bytes than were uploaded to the primary")
	}

	// A version deleted at the primary leaves the replica.
	r = curl(t, nil, "-u", primary.Cred(), "-X", "DELETE", primary.URL+"/helm/helm-hosted/api/charts/shipped/0.3.0")
	wantStatus(t, r, 200, "delete the chart version")
	waitFor(t, 30*time.Second, "the chart version leaves the replica", func() bool {
		return curl(t, nil, "-u", replica.Cred(), replica.URL+"/helm/helm-hosted/charts/shipped-0.3.0.tgz").Status == 404
	})
	primary.WantNoServerErrors()
	replica.WantNoServerErrors()
}

// waitFor polls cond until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: not yet: %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
