package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestImageScript builds arca's container image with scripts/image.sh —
// no Docker daemon, crane onto an empty base — for this machine's
// architecture, pushes it into a running arca, and pulls it back with
// crane: an index with the platform's image, run as a non-root user, whose
// one layer holds a static arca binary, CA certificates, /data owned by
// that user and a world-writable /tmp. (scripts/image.sh builds amd64 and
// arm64 by default; one platform keeps this test to one compile.)
func TestImageScript(t *testing.T) {
	tools := needOCITools(t, "crane")
	srv := StartServer(t, ServerOptions{})
	c := newOCIClient(t, srv, tools)
	c.loginAdmin(srv)
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ref := c.ref("library/arca:e2e")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "image.sh"), ref)
	cmd.Dir = root
	cmd.Env = append(c.env, "PLATFORMS="+runtime.GOARCH, "CRANE="+tools["crane"], "CRANE_FLAGS=--insecure")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("scripts/image.sh: %v\n%s%s", err, out.String(), errOut.String())
	}
	t.Logf("built and pushed in %v", time.Since(start).Round(time.Second))
	if want := c.digest(ref); strings.TrimSpace(out.String()) != want {
		t.Errorf("image.sh printed %q, the registry has %s", out.String(), want)
	}

	var index struct {
		MediaType string `json:"mediaType"`
		Manifests []struct {
			Digest   string `json:"digest"`
			Platform struct {
				OS           string `json:"os"`
				Architecture string `json:"architecture"`
			} `json:"platform"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal([]byte(c.crane("manifest", ref)), &index); err != nil {
		t.Fatal(err)
	}
	if index.MediaType != "application/vnd.oci.image.index.v1+json" || len(index.Manifests) != 1 ||
		index.Manifests[0].Platform.OS != "linux" || index.Manifests[0].Platform.Architecture != runtime.GOARCH {
		t.Fatalf("index %+v, want an OCI index of linux/%s", index, runtime.GOARCH)
	}
	var manifest struct {
		Layers []struct{ Size int64 } `json:"layers"`
	}
	if err := json.Unmarshal([]byte(c.crane("manifest", c.ref("library/arca@"+index.Manifests[0].Digest))), &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest.Layers) != 1 {
		t.Fatalf("%d layers, want 1", len(manifest.Layers))
	}
	t.Logf("image size (compressed layer): %.1f MiB", float64(manifest.Layers[0].Size)/(1<<20))

	var cfg struct {
		Config struct {
			User         string
			Entrypoint   []string
			Cmd          []string
			Env          []string
			ExposedPorts map[string]struct{}
		} `json:"config"`
	}
	if err := json.Unmarshal([]byte(c.crane("config", ref)), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Config.User != "65532:65532" || strings.Join(cfg.Config.Entrypoint, " ") != "/usr/local/bin/arca" ||
		strings.Join(cfg.Config.Cmd, " ") != "serve" || len(cfg.Config.ExposedPorts) != 2 {
		t.Errorf("image config %+v", cfg.Config)
	}

	// Pull the filesystem back and look at it.
	fsTar := c.crane("export", ref, "-")
	tr := tar.NewReader(strings.NewReader(fsTar))
	seen := map[string]*tar.Header{}
	var bin []byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(h.Name, "./")
		seen[strings.TrimSuffix(name, "/")] = h
		if name == "usr/local/bin/arca" {
			bin, _ = io.ReadAll(tr)
		}
	}
	if h := seen["data"]; h == nil || h.Uid != 65532 || h.Gid != 65532 {
		t.Errorf("/data %+v, want a directory owned by 65532", h)
	}
	if h := seen["tmp"]; h == nil || h.Mode&0o1777 != 0o1777 {
		t.Errorf("/tmp %+v, want mode 1777", h)
	}
	if h := seen["etc/ssl/certs/ca-certificates.crt"]; h == nil || h.Size < 10000 {
		t.Errorf("CA certificates %+v", h)
	}
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("usr/local/bin/arca (%d bytes) is not an ELF binary: %v", len(bin), err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("usr/local/bin/arca is dynamically linked (it has an interpreter); the image has no libc")
		}
	}
}
