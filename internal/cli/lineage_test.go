package cli_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/cli"
)

// TestLineageCommand runs arca lineage against a server: the token from
// --token or ARCA_TOKEN, the graph printed, refusals as errors.
func TestLineageCommand(t *testing.T) {
	s := apptest.Start(t, "", nil)
	resp, body := s.Do(t, "POST", "/api/v1/lineage/links", apptest.Admin,
		strings.NewReader(`{"from":"raw:files/train.csv","to":"raw:files/model.pkl","relation":"trained_on"}`), "Content-Type", "application/json")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("adding a link = %d %s", resp.StatusCode, body)
	}
	resp, body = s.Do(t, "POST", "/api/v1/users/admin/tokens", apptest.Admin, strings.NewReader(`{"name":"cli"}`), "Content-Type", "application/json")
	var tok struct{ Token string }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(body), &tok) != nil {
		t.Fatalf("token = %d %s", resp.StatusCode, body)
	}
	run := func(env map[string]string, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := cli.Main(append([]string{"lineage"}, args...), cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut,
			Getenv: func(k string) string { return env[k] }})
		return code, out.String(), errOut.String()
	}
	home := map[string]string{"HOME": t.TempDir()}
	code, out, errOut := run(home, "raw:files/model.pkl", "--url", s.URL, "--token", tok.Token, "--direction", "up")
	if code != 0 || !strings.Contains(out, "raw:files/model.pkl  (root)") || !strings.Contains(out, "raw:files/train.csv --trained_on--> raw:files/model.pkl") {
		t.Errorf("arca lineage = %d\n%s%s", code, out, errOut)
	}
	env := map[string]string{"HOME": t.TempDir(), "ARCA_TOKEN": tok.Token}
	if code, out, errOut := run(env, "raw:files/train.csv", "--url", s.URL, "--json"); code != 0 || !json.Valid([]byte(out)) {
		t.Errorf("arca lineage --json with ARCA_TOKEN = %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := run(home, "raw:files/train.csv", "--url", s.URL); code != 1 || !strings.Contains(errOut, "401") {
		t.Errorf("arca lineage without a token = %d %s, want 401", code, errOut)
	}
	if code, _, errOut := run(home, "raw:files/train.csv"); code != 2 || !strings.Contains(errOut, "--url") {
		t.Errorf("arca lineage without --url = %d %s", code, errOut)
	}
	if code, _, _ := run(home, "--url", s.URL); code != 2 {
		t.Errorf("arca lineage without a ref = %d, want 2", code)
	}
	if code, _, errOut := run(env, "bogus:x", "--url", s.URL); code != 1 || !strings.Contains(errOut, "invalid lineage ref") {
		t.Errorf("arca lineage bogus:x = %d %s", code, errOut)
	}
}
