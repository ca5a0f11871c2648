package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestConfigureClients points each real client at arca with `arca
// configure` in a fresh HOME, and then uses it with no other setting:
// twine uploads and pip downloads, npm publishes and views, crane pushes
// and lists, aws lists a bucket, dvc pushes, and the mlflow client logs a
// run. A second configure changes nothing, no secret is printed, and
// --undo puts the files back.
func TestConfigureClients(t *testing.T) {
	venv := os.Getenv("ARCA_TEST_VENV")
	if venv == "" {
		missing(t, "ARCA_TEST_VENV (twine, pip, dvc) is not set")
	}
	s3 := startS3Server(t)
	srv := s3.Server
	token := strings.TrimSpace(srv.Admin("token", "create", "admin", "--name", "configure"))
	home := t.TempDir()
	env := configureEnv(home)
	arca := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(arcaBin, args...)
		cmd.Env = env
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("arca %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		for _, secret := range []string{token, s3.Secret} {
			if strings.Contains(string(out), secret) {
				t.Fatalf("arca %s printed a secret:\n%s", strings.Join(args, " "), out)
			}
		}
		return string(out)
	}
	run := func(dir string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env, cmd.Dir = env, dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	common := []string{"--url", srv.URL, "--user", "admin", "--token-stdin"}
	for _, client := range []string{"pip", "twine", "npm", "docker", "mlflow"} {
		if out := arca(token+"\n", append([]string{"configure", client, "--dry-run"}, common...)...); !strings.Contains(out, "would change") || !strings.Contains(out, "****") {
			t.Fatalf("configure %s --dry-run printed:\n%s", client, out)
		}
		arca(token+"\n", append([]string{"configure", client}, common...)...)
		if out := arca(token+"\n", append([]string{"configure", client}, common...)...); !strings.Contains(out, "already configured") {
			t.Fatalf("a second configure %s printed:\n%s", client, out)
		}
	}
	arca(s3.Secret+"\n", "configure", "aws", "--s3-url", s3.URL, "--access-key", s3.KeyID, "--secret-key-stdin", "--url", srv.URL)

	work := t.TempDir()
	// twine and pip read ~/.pypirc and ~/.config/pip/pip.conf.
	wheel := filepath.Join(work, "configured_pkg-1.0-py3-none-any.whl")
	writeWheel(t, wheel, "configured_pkg", "1.0")
	run(work, filepath.Join(venv, "bin", "twine"), "upload", "--non-interactive", "-r", "arca", wheel)
	dl := filepath.Join(work, "dl")
	run(work, filepath.Join(venv, "bin", "pip"), "download", "--no-deps", "--dest", dl, "configured-pkg==1.0")
	if _, err := os.Stat(filepath.Join(dl, filepath.Base(wheel))); err != nil {
		t.Fatalf("pip did not download through the configured index: %v", err)
	}

	// npm reads ~/.npmrc.
	if npm, err := exec.LookPath("npm"); err != nil {
		missing(t, "npm not found")
	} else {
		pkg := filepath.Join(work, "npmpkg")
		os.MkdirAll(pkg, 0o755)
		os.WriteFile(filepath.Join(pkg, "package.json"), []byte(`{"name":"configured-pkg","version":"1.0.0","main":"index.js"}`), 0o644)
		os.WriteFile(filepath.Join(pkg, "index.js"), []byte("module.exports = 1\n"), 0o644)
		run(pkg, npm, "publish")
		if out := run(work, npm, "view", "configured-pkg", "version"); strings.TrimSpace(out) != "1.0.0" {
			t.Fatalf("npm view through the configured registry = %q", out)
		}
	}

	// crane reads ~/.docker/config.json.
	tools := needOCITools(t, "crane")
	host := strings.TrimPrefix(srv.URL, "http://")
	layer := filepath.Join(work, "layer.tar")
	writeLayerTar(t, layer, map[string][]byte{"hello.txt": []byte("configured")})
	run(work, tools["crane"], "append", "--insecure", "-f", layer, "-t", host+"/library/configured:1")
	if out := run(work, tools["crane"], "ls", "--insecure", host+"/library/configured"); strings.TrimSpace(out) != "1" {
		t.Fatalf("crane ls with the configured credentials = %q", out)
	}

	// aws reads the "arca" profile.
	awsBin := filepath.Join(s3Venv(t), "bin", "aws")
	run(work, awsBin, "--profile", "arca", "s3", "cp", layer, "s3://backups/configured/layer.tar")
	if out := run(work, awsBin, "--profile", "arca", "s3", "ls", "s3://backups/configured/"); !strings.Contains(out, "layer.tar") {
		t.Fatalf("aws --profile arca s3 ls = %q", out)
	}

	// dvc reads the repository's .dvc/config.local.
	proj := filepath.Join(work, "proj")
	os.MkdirAll(proj, 0o755)
	run(proj, needTool(t, "git"), "init", "-q")
	run(proj, filepath.Join(venv, "bin", "dvc"), "init", "-q")
	cmd := exec.Command(arcaBin, "configure", "dvc", "--url", srv.URL, "--s3-url", s3.URL, "--access-key", s3.KeyID, "--secret-key-stdin")
	cmd.Env, cmd.Dir, cmd.Stdin = env, proj, strings.NewReader(s3.Secret+"\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("arca configure dvc: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(proj, "data.csv"), []byte("a,b\n1,2\n"), 0o644)
	run(proj, filepath.Join(venv, "bin", "dvc"), "add", "-q", "data.csv")
	run(proj, filepath.Join(venv, "bin", "dvc"), "push", "-q")
	if out := run(work, awsBin, "--profile", "arca", "s3", "ls", "--recursive", "s3://dvc-storage/"); !regexp.MustCompile(`files/md5/`).MatchString(out) {
		t.Fatalf("dvc push stored nothing in dvc-storage:\n%s", out)
	}

	// The mlflow client reads the environment file.
	if py := os.Getenv("ARCA_TEST_MLFLOW_VENV"); py == "" {
		missing(t, "ARCA_TEST_MLFLOW_VENV is not set")
	} else {
		script := `. "$HOME/.config/arca/mlflow.env" && "$1" -c 'import mlflow; mlflow.set_experiment("configured"); mlflow.start_run(); mlflow.log_metric("m", 1); mlflow.end_run(); print("logged")'`
		if out := run(work, "sh", "-c", script, "sh", filepath.Join(py, "bin", "python")); !strings.Contains(out, "logged") {
			t.Fatalf("mlflow with the configured environment printed:\n%s", out)
		}
	}

	// --undo restores what was there before: nothing.
	arca("", "configure", "pip", "--undo")
	if _, err := os.Stat(filepath.Join(home, ".config", "pip", "pip.conf")); !os.IsNotExist(err) {
		t.Fatalf("pip.conf after --undo: %v", err)
	}
}

// configureEnv is a client environment with HOME and nothing of the
// machine's own client configuration that would point elsewhere.
func configureEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "HOME", strings.HasPrefix(k, "ARCA_"), strings.HasPrefix(k, "AWS_"), strings.HasPrefix(k, "MLFLOW_"),
			k == "DOCKER_CONFIG", k == "PIP_INDEX_URL", k == "PIP_EXTRA_INDEX_URL", k == "PIP_CONFIG_FILE", k == "XDG_CONFIG_HOME",
			strings.HasPrefix(strings.ToLower(k), "npm_config_"):
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home, "DVC_NO_ANALYTICS=1", "MLFLOW_DISABLE_TELEMETRY=true")
}
