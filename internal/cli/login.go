package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const loginUsage = `usage: arca login --url URL

Signs in with the server's identity provider (OpenID Connect) by the device
flow: open the address shown, enter the code, sign in there; arca then
mints an API token for you and stores it in ~/.config/arca/credentials.json,
where arca configure finds it (so --user and --token can be left out).`

// credentialsFile is where arca login keeps tokens, per server URL.
func credentialsFile(env Env) (string, error) {
	home := env.Getenv("HOME")
	if home == "" {
		return "", fmt.Errorf("HOME is not set")
	}
	return filepath.Join(home, ".config", "arca", "credentials.json"), nil
}

type storedCredential struct {
	User  string `json:"user"`
	Token string `json:"token"`
}

// loadCredential returns what arca login stored for the server url.
func loadCredential(env Env, url string) (storedCredential, bool) {
	p, err := credentialsFile(env)
	if err != nil {
		return storedCredential{}, false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return storedCredential{}, false
	}
	all := map[string]storedCredential{}
	if json.Unmarshal(b, &all) != nil {
		return storedCredential{}, false
	}
	c, ok := all[strings.TrimRight(url, "/")]
	return c, ok
}

func login(args []string, env Env) error {
	fset := flag.NewFlagSet("login", flag.ContinueOnError)
	fset.SetOutput(env.Stderr)
	rawURL := fset.String("url", "", "arca's address")
	if err := fset.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	u, err := parseServerURL(*rawURL)
	if err != nil {
		return err
	}
	base := strings.TrimRight(u.String(), "/")
	client := &http.Client{Timeout: 30 * time.Second}
	post := func(path string, body any, into any) (int, error) {
		b, _ := json.Marshal(body)
		resp, err := client.Post(base+path, "application/json", bytes.NewReader(b))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 300 {
			var e struct {
				Error struct{ Message string } `json:"error"`
			}
			json.NewDecoder(resp.Body).Decode(&e)
			return resp.StatusCode, fmt.Errorf("%s: %d %s", path, resp.StatusCode, e.Error.Message)
		}
		return resp.StatusCode, json.NewDecoder(resp.Body).Decode(into)
	}
	var start struct {
		RequestID               string `json:"request_id"`
		UserCode                string `json:"user_code"`
		VerificationURI         string `json:"verification_uri"`
		VerificationURIComplete string `json:"verification_uri_complete"`
		ExpiresIn               int64  `json:"expires_in"`
		Interval                int64  `json:"interval"`
	}
	if _, err := post("/api/v1/sso/device", struct{}{}, &start); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "To sign in, open %s and enter the code %s\n", start.VerificationURI, start.UserCode)
	if start.VerificationURIComplete != "" {
		fmt.Fprintf(env.Stdout, "(or open %s)\n", start.VerificationURIComplete)
	}
	deadline := time.Now().Add(time.Duration(start.ExpiresIn) * time.Second)
	for time.Now().Before(deadline) {
		var got struct {
			Status string `json:"status"`
			User   string `json:"user"`
			Token  string `json:"token"`
		}
		status, err := post("/api/v1/sso/device/token", map[string]string{"request_id": start.RequestID}, &got)
		if err != nil && status != http.StatusServiceUnavailable {
			return err
		}
		if status == http.StatusOK && got.Token != "" {
			if err := storeCredential(env, base, storedCredential{User: got.User, Token: got.Token}); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "Signed in as %s; the token is stored for arca configure.\n", got.User)
			return nil
		}
		time.Sleep(time.Duration(max(start.Interval, 1)) * time.Second)
	}
	return fmt.Errorf("the sign-in was not completed in time")
}

func storeCredential(env Env, base string, c storedCredential) error {
	p, err := credentialsFile(env)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	all := map[string]storedCredential{}
	if b, err := os.ReadFile(p); err == nil {
		json.Unmarshal(b, &all)
	}
	all[base] = c
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}
