package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReplicationE2E: two arca processes; a push policy with an event
// trigger on the first copies what crane pushes there to the second. It
// measures, for a 10 MiB image, the time from crane's push returning to
// crane finding the tag on the replica with the same digest, and pulls
// the replica's copy back whole.
func TestReplicationE2E(t *testing.T) {
	tools := needOCITools(t, "crane")
	primary := StartServer(t, ServerOptions{})
	replica := StartServer(t, ServerOptions{})
	p := newOCIClient(t, primary, tools)
	p.loginAdmin(primary)
	r := newOCIClient(t, replica, tools)
	r.loginAdmin(replica)

	_, secret, _ := strings.Cut(replica.Cred(), ":")
	policy := fmt.Sprintf(`{"name":"dr","repository":"library","direction":"push","on_event":true,
		"remote":{"url":%q,"repository":"library","username":"admin","password":%q}}`, replica.URL, secret)
	req, _ := http.NewRequest("POST", primary.URL+"/api/v1/replication/policies", strings.NewReader(policy))
	user, pw, _ := strings.Cut(primary.Cred(), ":")
	req.SetBasicAuth(user, pw)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		ID     int64 `json:"id"`
		Remote struct {
			Password string `json:"password"`
		} `json:"remote"`
	}
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || created.Remote.Password != "xxxxx" {
		t.Fatalf("creating the policy = %d %+v", resp.StatusCode, created)
	}

	layer := filepath.Join(p.dir, "big.tar")
	writeLayerTar(t, layer, map[string][]byte{"data/weights.bin": randomBytes(10 << 20)})
	ref := "library/models/big:1"
	p.crane("append", "--oci-empty-base", "-f", layer, "-t", p.ref(ref))
	pushed := time.Now()
	want := strings.TrimSpace(p.crane("digest", p.ref(ref)))
	var took time.Duration
	for {
		out, err := r.craneErr("digest", r.ref(ref))
		if err == nil && strings.TrimSpace(out) == want {
			took = time.Since(pushed)
			break
		}
		if time.Since(pushed) > 60*time.Second {
			t.Fatalf("not on the replica 60s after the push: %v %s", err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("10 MiB image (crane push to arca, push policy on events): on the replica %s after crane returned", took.Round(time.Millisecond))

	// The replica serves it whole: crane pulls it and the layer's bytes are
	// the pushed ones.
	pulled := filepath.Join(r.dir, "pulled.tar")
	r.crane("export", r.ref(ref), pulled)
	files := readTarFiles(t, pulled)
	orig := readTarFiles(t, layer)
	if !bytes.Equal(files["data/weights.bin"], orig["data/weights.bin"]) {
		t.Fatalf("the replica's layer differs from the pushed one (%d bytes, want %d)", len(files["data/weights.bin"]), len(orig["data/weights.bin"]))
	}
}

// TestReplicationMLflowE2E: the real mlflow client logs an experiment, a
// run (params, tags, a metric history, artifacts) and a registered model
// version with an alias on one arca; a push policy of the MLflow space run
// by hand copies them to another arca, where the client reads them all
// back (the model's files through models:/name@alias too). A second run
// copies nothing again.
func TestReplicationMLflowE2E(t *testing.T) {
	py := mlflowPython(t)
	primary := StartServer(t, ServerOptions{})
	replica := StartServer(t, ServerOptions{})
	script, err := filepath.Abs(filepath.Join("testdata", "replication", "mlflow_space.py"))
	if err != nil {
		t.Fatal(err)
	}
	run := func(srv *Server, mode string) map[string]string {
		user, pw, _ := strings.Cut(srv.Cred(), ":")
		out, err := runCmdErr(mlflowTimeout, t.TempDir(), mlflowEnv(srv, mlflowCreds{user: user, password: pw}, t.TempDir()), py, script, mode)
		if err != nil {
			t.Fatalf("mlflow_space.py %s: %v\n%s", mode, err, out)
		}
		res := map[string]string{}
		for _, line := range strings.Split(out, "\n") {
			if rest, ok := strings.CutPrefix(line, "RESULT "); ok {
				k, v, _ := strings.Cut(strings.TrimSpace(rest), " ")
				res[k] = v
			}
		}
		return res
	}
	written := run(primary, "write")

	_, secret, _ := strings.Cut(replica.Cred(), ":")
	var p struct{ ID int64 }
	if err := json.Unmarshal(npmAPI(t, primary, "POST", "/api/v1/replication/policies", fmt.Sprintf(`{"name":"mlflow-dr","repository":"mlflow","direction":"push",
		"remote":{"url":%q,"username":"admin","password":%q}}`, replica.URL, secret), http.StatusCreated), &p); err != nil {
		t.Fatal(err)
	}
	type runView struct {
		State                   string
		Copied, Skipped, Failed int
		Error                   string
	}
	runPolicy := func(n int) runView {
		npmAPI(t, primary, "POST", fmt.Sprintf("/api/v1/replication/policies/%d/run", p.ID), "", http.StatusAccepted)
		deadline := time.Now().Add(2 * time.Minute)
		for {
			var runs []runView
			json.Unmarshal(npmAPI(t, primary, "GET", fmt.Sprintf("/api/v1/replication/policies/%d/runs", p.ID), "", http.StatusOK), &runs)
			if len(runs) >= n && runs[0].State != "running" {
				return runs[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("no finished run %d: %+v", n, runs)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	first := runPolicy(1)
	if first.State != "succeeded" || first.Copied != 2 { // the run and the model version
		t.Fatalf("first MLflow run = %+v", first)
	}
	checked := run(replica, "check")
	if checked["source_run"] != written["run"] || checked["run"] == written["run"] {
		t.Fatalf("the replica's run %s names source %q, want %s", checked["run"], checked["source_run"], written["run"])
	}
	second := runPolicy(2)
	if second.State != "succeeded" || second.Copied != 0 || second.Skipped != 2 {
		t.Fatalf("second MLflow run = %+v", second)
	}
}
