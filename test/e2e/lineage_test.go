package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestLineage follows one model from its data to its image with the real
// clients: `dvc push` of a dataset to arca's S3 bucket dvc-storage (and the
// .dvc file uploaded beside it), an mlflow run that logs the dataset with
// its S3 URI as source and registers a model version from the run, and an
// image pushed with crane whose manifest annotation names the model and
// whose config label names the data. The links are extracted by the
// server's jobs; the graph from the image reaches the data, and the
// reverse; a user who may read the image and the bucket but not the
// experiment sees the MLflow nodes hidden, through the API and `arca
// lineage`.
func TestLineage(t *testing.T) {
	venv := os.Getenv("ARCA_TEST_VENV")
	if venv == "" {
		missing(t, "ARCA_TEST_VENV (a Python virtualenv with dvc) is not set")
	}
	dvcBin := filepath.Join(venv, "bin", "dvc")
	if err := exec.Command(filepath.Join(venv, "bin", "python"), "-c", "import dvc_s3").Run(); err != nil {
		missing(t, "dvc-s3 is not installed in %s", venv)
	}
	py := mlflowPython(t)
	gitBin := needTool(t, "git")
	needTool(t, "curl")
	tools := needOCITools(t, "crane")

	srv := StartServer(t, ServerOptions{})
	e := s3EndpointOf(t, srv)

	// DVC: track a file, push it to s3://dvc-storage/lineage.
	proj := filepath.Join(t.TempDir(), "project")
	os.Mkdir(proj, 0o755)
	env := dvcEnv(t.TempDir())
	run := func(bin string, args ...string) string {
		t.Helper()
		return runCmd(t, dvcTimeout, proj, env, bin, args...)
	}
	run(gitBin, "init", "-q")
	run(dvcBin, "init", "-q")
	run(dvcBin, "config", "core.analytics", "false")
	mustWrite(t, filepath.Join(proj, "iris.csv"), "sepal,label\n5.1,0\n4.9,0\n6.3,1\n")
	run(dvcBin, "add", "iris.csv")
	run(dvcBin, "remote", "add", "-d", "s3", "s3://dvc-storage/lineage")
	run(dvcBin, "remote", "modify", "s3", "endpointurl", e.URL)
	run(dvcBin, "remote", "modify", "--local", "s3", "access_key_id", e.KeyID)
	run(dvcBin, "remote", "modify", "--local", "s3", "secret_access_key", e.Secret)
	run(dvcBin, "push")
	dvcFile, err := os.ReadFile(filepath.Join(proj, "iris.csv.dvc"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`md5: ([0-9a-f]{32})`).FindSubmatch(dvcFile)
	if m == nil {
		t.Fatalf("no md5 in iris.csv.dvc:\n%s", dvcFile)
	}
	md5 := string(m[1])
	key := "lineage/files/md5/" + md5[:2] + "/" + md5[2:]
	// The .dvc file, usually in git, uploaded to arca too.
	r := curl(t, strings.NewReader(string(dvcFile)), "-u", srv.Cred(), "-T", "-", srv.URL+"/raw/files/lineage/iris.csv.dvc")
	wantStatus(t, r, http.StatusCreated, "PUT the .dvc file")

	// MLflow: a run using the dataset, and a model version from the run.
	res := runLineageScript(t, py, mlflowEnv(srv, mlflowCreds{user: "admin", password: adminPassword}, t.TempDir()),
		"--source", "s3://dvc-storage/"+key, "--model", "iris-lineage")
	runID, digest, version := res["run_id"], res["dataset_digest"], res["model_version"]
	if runID == "" || digest == "" || version != "1" {
		t.Fatalf("the script reported %v", res)
	}

	// The image: crane append, then crane mutate with the annotation and label.
	c := newOCIClient(t, srv, tools)
	c.loginAdmin(srv)
	layer := filepath.Join(c.dir, "serve.tar")
	writeLayerTar(t, layer, map[string][]byte{"serve.py": []byte("print('serving')\n")})
	c.crane("append", "--oci-empty-base", "-f", layer, "-t", c.ref("library/iris-serve:base"))
	c.crane("mutate", c.ref("library/iris-serve:base"), "--annotation", "dev.arca.model=models:/iris-lineage/"+version,
		"--label", "dev.arca.dataset=dvc-md5:"+md5, "--label", "org.opencontainers.image.source=https://git.example/iris",
		"-t", c.ref("library/iris-serve:v1"))
	image := "oci:library/iris-serve@" + c.digest(c.ref("library/iris-serve:v1"))

	model, runRef, dataset := "model:iris-lineage/"+version, "mlflow-run:"+runID, "dataset:"+digest
	object, data, dvcRef := "s3:dvc-storage/"+key, "dvc-md5:"+md5, "raw:files/lineage/iris.csv.dvc"
	want := map[string]string{
		model + ">" + image:    "packaged",
		data + ">" + image:     "packaged",
		runRef + ">" + model:   "registered",
		dataset + ">" + runRef: "input",
		object + ">" + dataset: "source",
		data + ">" + object:    "stored_at",
		dvcRef + ">" + data:    "declares",
	}
	// The jobs record the links soon after each push.
	var g lineageAnswer
	deadline := time.Now().Add(90 * time.Second)
	for {
		g = lineageOf(t, srv, "-u", srv.Cred(), "oci:library/iris-serve:v1", 6, "up")
		if fmt.Sprint(g.edges()) == fmt.Sprint(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if got := g.edges(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("the graph up from the image:\n got %v\nwant %v", got, want)
	}
	if g.Root != image {
		t.Errorf("root %s, want the tag resolved to %s", g.Root, image)
	}
	// And back down from the data to the image.
	down := lineageOf(t, srv, "-u", srv.Cred(), data, 6, "down")
	for _, n := range []string{object, dataset, runRef, model, image} {
		if !down.nodes()[n] {
			t.Errorf("the graph down from %s lacks %s: %v", data, n, down.nodes())
		}
	}

	// vic reads the image and the bucket, not the experiment.
	npmAPI(t, srv, "POST", "/api/v1/users", `{"name":"vic","password":"e2e-vic-Passw0rd"}`, http.StatusCreated)
	for _, repo := range []string{"library", "dvc-storage"} {
		npmAPI(t, srv, "PUT", "/api/v1/repositories/"+repo+"/roles/vic", `{"role":"reader"}`, http.StatusOK)
	}
	var tok struct {
		Token string `json:"token"`
	}
	r = curl(t, strings.NewReader(`{"name":"lineage"}`), "-u", "vic:e2e-vic-Passw0rd", "-X", "POST",
		"-H", "Content-Type: application/json", "--data-binary", "@-", srv.URL+"/api/v1/users/vic/tokens")
	wantStatus(t, r, http.StatusCreated, "vic's token")
	decodeJSON(t, r, &tok)
	g = lineageOf(t, srv, "-H", "Authorization: Bearer "+tok.Token, "oci:library/iris-serve:v1", 6, "up")
	nodes := g.nodes()
	if !nodes[image] || !nodes[object] || !nodes[data] || !nodes["hidden"] || nodes[model] || nodes[runRef] || nodes[dataset] {
		t.Errorf("vic's graph = %v, want the image and the data, the model, run and dataset hidden", nodes)
	}
	for _, secret := range []string{runID, "iris-lineage", digest} {
		if strings.Contains(g.raw, secret) {
			t.Errorf("vic's graph names %s: %s", secret, g.raw)
		}
	}

	// arca lineage, with vic's token from the environment.
	cmd := exec.Command(arcaBin, "lineage", "oci:library/iris-serve:v1", "--url", srv.URL, "--depth", "6", "--direction", "up")
	cmd.Env = append(os.Environ(), "ARCA_TOKEN="+tok.Token, "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("arca lineage: %v\n%s", err, out)
	}
	t.Logf("arca lineage as vic:\n%s", indent(string(out)))
	if !strings.Contains(string(out), image+"  (root)") || !strings.Contains(string(out), "(hidden: you may not read it)") ||
		!strings.Contains(string(out), data+" --stored_at--> "+object) || strings.Contains(string(out), runID) {
		t.Errorf("arca lineage as vic printed:\n%s", out)
	}
	srv.WantNoServerErrors()
}

// lineageAnswer is GET /api/v1/lineage's answer, and its text.
type lineageAnswer struct {
	Root  string `json:"root"`
	Nodes []struct {
		ID     string `json:"id"`
		Hidden bool   `json:"hidden"`
	} `json:"nodes"`
	Edges []struct{ From, To, Relation string } `json:"edges"`
	raw   string
}

// edges are "from>to" → relation.
func (g lineageAnswer) edges() map[string]string {
	out := map[string]string{}
	for _, e := range g.Edges {
		out[e.From+">"+e.To] = e.Relation
	}
	return out
}

// nodes are the node IDs, "hidden" for every hidden one.
func (g lineageAnswer) nodes() map[string]bool {
	out := map[string]bool{}
	for _, n := range g.Nodes {
		if n.Hidden {
			out["hidden"] = true
		} else {
			out[n.ID] = true
		}
	}
	return out
}

func lineageOf(t *testing.T, srv *Server, authArg, cred, ref string, depth int, direction string) lineageAnswer {
	t.Helper()
	r := curl(t, nil, authArg, cred, fmt.Sprintf("%s/api/v1/lineage?artifact=%s&depth=%d&direction=%s", srv.URL, url.QueryEscape(ref), depth, direction))
	wantStatus(t, r, http.StatusOK, "GET /api/v1/lineage "+ref)
	var g lineageAnswer
	g.raw = string(r.Body(t))
	if err := json.Unmarshal([]byte(g.raw), &g); err != nil {
		t.Fatalf("lineage answer %s: %v", g.raw, err)
	}
	return g
}

// runLineageScript runs testdata/lineage/train.py and returns its RESULT lines.
func runLineageScript(t *testing.T, py string, env []string, args ...string) map[string]string {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "lineage", "train.py"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := runCmdErr(mlflowTimeout, t.TempDir(), env, py, append([]string{script}, args...)...)
	t.Logf("train.py:\n%s", indent(out))
	if err != nil {
		t.Fatalf("train.py failed: %v", err)
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
