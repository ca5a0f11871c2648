package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// freeAddr returns a free loopback port.
func freeAddr(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startOIDCProvider runs test/oidcop (the example provider of
// zitadel/oidc with a groups claim) with the users and groups given; the
// groups file may be rewritten while it runs.
func startOIDCProvider(t *testing.T, redirect string, users map[string]string, groups string) (issuer, groupsFile string) {
	t.Helper()
	bin := needOCITools(t, "oidcop")["oidcop"]
	dir := t.TempDir()
	// IDs equal names: the example's device flow takes the name as the
	// subject.
	var b strings.Builder
	b.WriteString("{")
	i := 0
	for name, pw := range users {
		if i > 0 {
			b.WriteString(",")
		}
		i++
		fmt.Fprintf(&b, `"%[1]s":{"ID":"%[1]s","Username":"%[1]s","Password":"%[2]s","FirstName":"%[1]s","LastName":"Test","Email":"%[1]s@arca.test","EmailVerified":true,"PreferredLanguage":"en"}`, name, pw)
	}
	b.WriteString("}")
	usersFile := filepath.Join(dir, "users.json")
	groupsFile = filepath.Join(dir, "groups.json")
	mustWriteFile(t, usersFile, []byte(b.String()))
	mustWriteFile(t, groupsFile, []byte(groups))
	port := freeAddr(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), fmt.Sprintf("PORT=%d", port), "USERS_FILE="+usersFile, "GROUPS_FILE="+groupsFile,
		"REDIRECT_URI="+redirect, "CLIENT_SECRET=oidc-client-secret")
	logPath := filepath.Join(dir, "oidcop.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = dieWithParent()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			t.Logf("oidcop log:\n%s", truncate(out, 20000))
		}
	})
	issuer = fmt.Sprintf("http://localhost:%d/", port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(issuer + ".well-known/openid-configuration")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("oidcop did not serve its discovery document within 20s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return issuer, groupsFile
}

// browse runs chromedp actions outside arca's pages (whose checks the
// provider's pages would not pass), waiting for the page they lead to.
func (b *uiBrowser) browse(what string, action chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, action)); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	// What the provider's pages did (its missing favicon) is not arca's
	// to check; arca's own requests still are.
	b.mu.Lock()
	kept := b.problems[:0]
	for _, p := range b.problems {
		if strings.Contains(p, b.base) {
			kept = append(kept, p)
		}
	}
	b.problems = kept
	b.mu.Unlock()
}

// providerLogin fills the provider's sign-in form.
func (b *uiBrowser) providerLogin(user, pw string) {
	b.t.Helper()
	b.fill("#username", user)
	b.fill("#password", pw)
	b.browse("provider sign-in as "+user, chromedp.Click(chromedp.CSS(`button[type=submit]`)))
}

// TestSSOOIDCBrowser: a real OpenID provider (test/oidcop) and arca,
// driven in headless Chromium. dana (group platform: developer on
// library) signs in through the provider (code flow with PKCE) and lands
// in arca as a new external user; `arca login` gets her a token by the
// device flow (approved in the browser at the provider), `arca configure
// docker` stores it and crane pushes with it. dana leaves platform at the
// provider: her token keeps its roles until her next sign-in (OIDC groups
// are only seen at sign-in, as docs/sso.md says), which takes them.
// erin's provider name belongs to a local arca account: refused, never
// merged. Sign-out ends the session and goes to the provider's
// end_session_endpoint.
func TestSSOOIDCBrowser(t *testing.T) {
	chromium := needChromium(t)
	tools := needOCITools(t, "crane")
	arcaPort := freeAddr(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", arcaPort)
	issuer, groupsFile := startOIDCProvider(t, base+"/ui/sso/callback",
		map[string]string{"dana": "dana-op-password", "erin": "erin-op-password"},
		`{"dana": ["platform"], "erin": ["platform"]}`)

	srv := StartServer(t, ServerOptions{Env: []string{"ARCA_ADDR=127.0.0.1:" + fmt.Sprint(arcaPort), ssoConfig(t, fmt.Sprintf(`  oidc:
    issuer: %s
    client_id: arca
    client_secret: oidc-client-secret
    device_client_id: arca-device
    device_client_secret: oidc-client-secret
    redirect_url: %s/ui/sso/callback
    name: Test IdP
    group_roles:
      platform: {"library": developer}
`, issuer, base))}})
	if srv.URL != base {
		t.Fatalf("arca listens on %s, want %s", srv.URL, base)
	}
	// A local erin exists before the provider's erin signs in.
	wantStatus(t, curl(t, strings.NewReader(`{"name":"erin","password":"local-erin-pw-1"}`), "-u", srv.Cred(), "-X", "POST",
		"--data-binary", "@-", srv.URL+"/api/v1/users"), http.StatusCreated, "create local erin")

	b := newUIBrowser(t, chromium, srv.URL)
	signIn := func(user, pw string) {
		t.Helper()
		b.open("/ui/login")
		b.browse("to the provider", chromedp.Click(chromedp.CSS("#sso-login")))
		if !strings.HasPrefix(b.location(), issuer) {
			t.Fatalf("the sign-in link went to %s, not the provider", b.location())
		}
		b.providerLogin(user, pw)
	}
	signIn("dana", "dana-op-password")
	if loc := b.location(); !strings.HasPrefix(loc, "/") || strings.Contains(loc, "/ui/login") || strings.Contains(loc, "/ui/sso/") {
		t.Fatalf("after the provider's sign-in the browser is at %s", loc)
	}
	b.check("dashboard after OIDC sign-in")
	b.open("/ui/repositories")
	if txt := b.text("main"); !strings.Contains(txt, "library") || strings.Contains(txt, "pypi-hosted") {
		t.Fatalf("dana's repository list (developer on library by her group, nothing else):\n%s", txt)
	}

	// arca login: the device flow, approved in the browser.
	home := t.TempDir()
	env := append(os.Environ(), "HOME="+home)
	cmd := exec.Command(arcaBin, "login", "--url", srv.URL)
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var out strings.Builder
	codeRe := regexp.MustCompile(`open (\S+) and enter the code (\S+)`)
	var verify, code string
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if m := codeRe.FindStringSubmatch(sc.Text()); m != nil {
			verify, code = m[1], m[2]
			break
		}
	}
	if verify == "" {
		cmd.Process.Kill()
		t.Fatalf("arca login printed no code:\n%s", out.String())
	}
	b.browse("device page", chromedp.Navigate(verify))
	b.fill("#user_code", code)
	b.browse("enter the code", chromedp.Click(chromedp.CSS(`button[type=submit]`)))
	b.providerLogin("dana", "dana-op-password")
	b.browse("allow the device", chromedp.Click(chromedp.CSS(`button.green`)))
	done := make(chan error, 1)
	go func() {
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("arca login: %v\n%s", err, out.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("arca login did not finish:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "Signed in as dana") {
		t.Fatalf("arca login output:\n%s", out.String())
	}
	t.Logf("arca login:\n%s", indent(out.String()))

	// arca configure docker finds the stored token; crane pushes with it.
	c := newOCIClient(t, srv, tools)
	cfgEnv := append(c.env, "HOME="+home, "DOCKER_CONFIG="+filepath.Join(home, ".docker"))
	if o, err := runCmdErr(time.Minute, c.dir, cfgEnv, arcaBin, "configure", "docker", "--url", srv.URL); err != nil {
		t.Fatalf("arca configure docker: %v\n%s", err, o)
	}
	c.env = cfgEnv
	layer := filepath.Join(c.dir, "layer.tar")
	writeLayerTar(t, layer, map[string][]byte{"hello.txt": []byte("from oidc")})
	c.crane("append", "-f", layer, "-t", c.ref("library/oidc-app:1"))

	// dana leaves platform at the provider. Her token keeps working until
	// she signs in again; then it loses the role.
	mustWriteFile(t, groupsFile, []byte(`{"dana": [], "erin": ["platform"]}`))
	c.crane("append", "-f", layer, "-t", c.ref("library/oidc-app:2"))
	b.open("/")
	b.browse("sign out", chromedp.Click(chromedp.CSS(`form[action="/ui/logout"] button`)))
	b.check("signed out")
	b.browse("sign out at the provider", chromedp.Click(chromedp.CSS(`#sso-logout`)))
	if loc := b.location(); !strings.HasPrefix(loc, issuer) {
		t.Fatalf("sign-out went to %s, not the provider's end_session_endpoint", loc)
	}
	signIn("dana", "dana-op-password")
	b.check("dashboard after the second sign-in")
	if o, err := c.craneErr("append", "-f", layer, "-t", c.ref("library/oidc-app:3")); err == nil {
		t.Fatalf("dana's token pushes after her sign-in without the group:\n%s", o)
	}

	// erin: the name is a local account's.
	b2 := newUIBrowser(t, chromium, srv.URL)
	b2.open("/ui/login")
	b2.browse("to the provider", chromedp.Click(chromedp.CSS("#sso-login")))
	b2.providerLogin("erin", "erin-op-password")
	if txt := b2.text(".error"); !strings.Contains(txt, "belongs to another arca account") {
		t.Fatalf("erin's sign-in: %q", txt)
	}
}
