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
