package e2e

// End-to-end tests of the web UI in a real headless Chromium (Debian's
// chromium, installed by scripts/install-ui-clients.sh), driven with
// chromedp. Every page the test visits must answer without an error status,
// log nothing to the console as an error, carry the anti-forgery field in
// every form that posts, a label on every control, and the header, nav and
// main landmarks.
//
// With ARCA_UI_SCREENSHOTS set to a directory, the test saves screenshots of
// the main pages there (docs/screenshots holds the ones the docs show).

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// needChromium returns the browser to drive: ARCA_CHROMIUM, else chromium
// in the PATH.
func needChromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("ARCA_CHROMIUM"); p != "" {
		return p
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		missing(t, "chromium not found in PATH (scripts/install-ui-clients.sh installs it)")
	}
	return p
}

// uiBrowser is one headless Chromium tab on one arca, with the checks every
// page must pass.
type uiBrowser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string // where screenshots go, or ""

	mu       sync.Mutex
	problems []string // error statuses, console errors, exceptions since the last check
}

func newUIBrowser(t *testing.T, chromium, base string) *uiBrowser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		// The machine's network is closed: keep Chromium from trying its
		// own services in the background.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	b := &uiBrowser{t: t, ctx: ctx, base: base, shots: os.Getenv("ARCA_UI_SCREENSHOTS")}
	if b.shots != "" {
		if err := os.MkdirAll(b.shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	err := chromedp.Listen(ctx, func(ev any) {
		var p string
		switch ev := ev.(type) {
		case *network.EventResponseReceived:
			if ev.Response != nil && ev.Response.Status >= 400 {
				p = fmt.Sprintf("%s %s answered %d", ev.Type, ev.Response.URL, ev.Response.Status)
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				p = "console.error: " + strings.Join(args, " ")
			}
		case *runtime.EventExceptionThrown:
			p = "uncaught exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				p += " " + ev.ExceptionDetails.Exception.Description
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry != nil && ev.Entry.Level == cdplog.EntryLevelError {
				p = fmt.Sprintf("console (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		}
		if p != "" {
			b.mu.Lock()
			b.problems = append(b.problems, p)
			b.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return b
}

// step bounds one action, so that a missing element fails the test soon.
func (b *uiBrowser) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, 45*time.Second)
}

// open navigates to a path of the server and checks the page.
func (b *uiBrowser) open(path string) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(b.base+path)); err != nil {
		b.t.Fatalf("open %s: %v", path, err)
	}
	b.check("open " + path)
}

// click clicks the element css selects, waits for the page it leads to and
// checks it.
func (b *uiBrowser) click(css string) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil,
		chromedp.Click(chromedp.CSS(css), chromedp.NodeVisible)))
	if err != nil {
		b.t.Fatalf("click %s: %v", css, err)
	}
	b.check("click " + css)
}

// fill sets the value of the control css selects.
func (b *uiBrowser) fill(css, value string) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(css), value)); err != nil {
		b.t.Fatalf("fill %s: %v", css, err)
	}
}

// pageCheck is what every page must satisfy, gathered in one evaluation.
type pageCheck struct {
	Forms         int      `json:"forms"`
	WithoutCSRF   []string `json:"withoutCSRF"`
	Unlabeled     []string `json:"unlabeled"`
	Landmarks     bool     `json:"landmarks"`
	InlineScripts int      `json:"inlineScripts"`
}

const pageCheckJS = `(() => {
	const posting = Array.from(document.querySelectorAll('form')).filter(f => (f.getAttribute('method') || 'get').toLowerCase() === 'post');
	return {
		forms: posting.length,
		withoutCSRF: posting.filter(f => { const c = f.querySelector('input[type=hidden][name=csrf]'); return !c || c.value.length < 32; })
			.map(f => f.getAttribute('action') || '(no action)'),
		unlabeled: Array.from(document.querySelectorAll('input, select, textarea'))
			.filter(e => e.type !== 'hidden' && !e.hidden && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
			.map(e => e.name || e.id || e.outerHTML.slice(0, 80)),
		landmarks: !!(document.querySelector('header') && document.querySelector('nav') && document.querySelector('main')),
		inlineScripts: Array.from(document.scripts).filter(s => !s.src).length,
	};
})()`

// check fails the test on a page that errs or lacks a protection, and
// reports what the browser saw since the last check.
func (b *uiBrowser) check(what string) {
	b.t.Helper()
	c, err := chromedp.Run(b.ctx, chromedp.Evaluate[pageCheck](pageCheckJS))
	if err != nil {
		b.t.Fatalf("%s: evaluating the page checks: %v", what, err)
	}
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	if len(c.WithoutCSRF) > 0 {
		b.t.Errorf("%s (%s): forms posting without the csrf field: %v", what, loc, c.WithoutCSRF)
	}
	if len(c.Unlabeled) > 0 {
		b.t.Errorf("%s (%s): form controls without a label: %v", what, loc, c.Unlabeled)
	}
	if !c.Landmarks {
		b.t.Errorf("%s (%s): the page lacks header, nav or main", what, loc)
	}
	if c.InlineScripts > 0 {
		b.t.Errorf("%s (%s): %d inline scripts", what, loc, c.InlineScripts)
	}
	b.failOnProblems(what + " (" + loc + ")")
}

func (b *uiBrowser) failOnProblems(what string) {
	b.t.Helper()
	b.mu.Lock()
	p := b.problems
	b.problems = nil
	b.mu.Unlock()
	if len(p) > 0 {
		b.t.Fatalf("%s:\n  %s", what, strings.Join(p, "\n  "))
	}
}

// location is the path (and query) of the current page.
func (b *uiBrowser) location() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return strings.TrimPrefix(loc, b.base)
}

// text returns the text of the first element css selects.
func (b *uiBrowser) text(css string) string {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("text of %s on %s: %v", css, b.location(), err)
	}
	return s
}

// wantText fails unless the main content contains every string, ignoring
// case (the style sheet upper-cases some labels, and the text is as shown).
func (b *uiBrowser) wantText(want ...string) {
	b.t.Helper()
	main := b.text("main")
	for _, w := range want {
		if !strings.Contains(strings.ToLower(main), strings.ToLower(w)) {
			b.t.Fatalf("%s does not show %q:\n%s", b.location(), w, main)
		}
	}
}

// shot saves a full-page screenshot as <name>.png when screenshots are on.
func (b *uiBrowser) shot(name string) {
	b.t.Helper()
	if b.shots == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// cookieHeader is the browser's cookies for the server, as a Cookie header.
func (b *uiBrowser) cookieHeader() string {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base + "/"}})
	if err != nil {
		b.t.Fatal(err)
	}
	var parts []string
	for _, c := range res.Cookies {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// TestUIBrowser signs in, creates a repository with the admin form, browses
// a two-platform image pushed by crane (with an SBOM attached by oras) and a
// package uploaded by twine, creates a token, and checks that a post
// without the anti-forgery token is refused.
func TestUIBrowser(t *testing.T) {
	chromium := needChromium(t)
	tools := needOCITools(t, "crane", "oras")
	venv := os.Getenv("ARCA_TEST_VENV")
	if venv == "" {
		missing(t, "ARCA_TEST_VENV (a Python virtualenv with twine and build) is not set")
	}
	py, twine := filepath.Join(venv, "bin", "python"), filepath.Join(venv, "bin", "twine")
	srv := StartServer(t, ServerOptions{})

	// Content to browse: an image index with an SBOM, a package, files.
	c := newOCIClient(t, srv, tools)
	c.loginAdmin(srv)
	idx := c.buildIndex("library/demo", "v1", false)
	mustWriteFile(t, filepath.Join(c.dir, "sbom.spdx.json"), []byte(`{"spdxVersion":"SPDX-2.3","name":"demo"}`))
	c.orasDesc("attach", "--distribution-spec", "v1.1-referrers-api", "--artifact-type", sbomArtifactType,
		c.ref("library/demo:v1"), "sbom.spdx.json:application/spdx+json")

	work := t.TempDir()
	env := pypiEnv(filepath.Join(work, "home"))
	proj := pypiProject(t, work, "arca-ui-demo", "arca_ui_demo", "0.1.0", "", `VALUE = 42`)
	runCmd(t, pypiTimeout, work, env, py, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", filepath.Join(proj, "dist"), proj)
	dists := pypiDists(t, proj)
	runCmd(t, pypiTimeout, work, env, twine, append([]string{"upload", "--non-interactive", "--disable-progress-bar",
		"--repository-url", srv.URL + "/pypi/pypi-hosted/", "-u", "admin", "-p", adminPassword}, dists...)...)
	wheelSHA, _ := sha256File(t, dists[0])
	for _, p := range []string{"datasets/train.csv", "datasets/test.csv", "models/v1/model.bin", "README.txt"} {
		wantStatus(t, curl(t, strings.NewReader("content of "+p), "-u", srv.Cred(), "-T", "-", srv.URL+"/raw/files/"+p), http.StatusCreated, "upload "+p)
	}

	b := newUIBrowser(t, chromium, srv.URL)

	// Anonymous: the dashboard sends to the sign-in page.
	b.open("/")
	if loc := b.location(); !strings.HasPrefix(loc, "/ui/login?next=") {
		t.Fatalf("anonymous / went to %s, want the sign-in page", loc)
	}
	b.shot("login")
	if err := chromedp.Do(b.ctx,
		chromedp.SendKeys(chromedp.ID("login-name"), "admin"),
		chromedp.SendKeys(chromedp.ID("login-password"), adminPassword),
	); err != nil {
		t.Fatal(err)
	}
	b.click("main form button[type=submit]")
	if loc := b.location(); loc != "/" {
		t.Fatalf("after signing in: at %s, want /", loc)
	}
	b.wantText("Storage used", "Saved by de-duplication", "Recent activity")
	b.shot("dashboard")

	// Create a repository through the admin form.
	b.open("/ui/repositories")
	b.click(`a[href="/ui/admin/repositories/new"]`)
	b.fill(`input[name=name]`, "ui-made")
	b.fill(`select[name=format]`, "raw")
	b.fill(`select[name=visibility]`, "public")
	b.fill(`input[name=description]`, "Made in the browser")
	b.shot("admin-repository-new")
	b.click("main form button.primary")
	if loc := b.location(); loc != "/ui/repositories/ui-made" {
		t.Fatalf("after creating a repository: at %s", loc)
	}
	b.wantText("Repository ui-made created.", "Made in the browser", "dvc remote add -d arca "+srv.URL+"/raw/ui-made/dvc")
	wantStatus(t, curl(t, strings.NewReader("x"), "-u", srv.Cred(), "-T", "-", srv.URL+"/raw/ui-made/x.txt"), http.StatusCreated, "upload to the new repository")

	b.open("/ui/repositories")
	b.wantText("ui-made", "library", "pypi-hosted")
	b.shot("repositories")

	// The image pushed by crane: tags, the index's platforms, its SBOM, one
	// platform's layers.
	b.open("/ui/repositories/library")
	b.wantText("docker login "+strings.TrimPrefix(srv.URL, "http://"), "crane auth login")
	b.shot("repository-oci")
	// The copy buttons (the one script) run without errors.
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS("button[data-copy]"), chromedp.NodeVisible)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	b.check("copy button")
	b.click(`a[href="/ui/repositories/library/images/demo"]`)
	b.wantText("v1", "v1-amd64", "v1-arm64", hexShort(idx.digest))
	b.shot("image-tags")
	b.click(`a[href="/ui/repositories/library/manifests/` + idx.digest + `/demo"]`)
	b.wantText("index", "linux/amd64", "linux/arm64", sbomArtifactType, "docker pull "+c.host+"/library/demo@"+idx.digest)
	b.shot("manifest-index")
	arm := idx.images[ociPlatformARM64].digest
	b.click(`a[href="/ui/repositories/library/manifests/` + arm + `/demo"]`)
	b.wantText("Config and layers", "linux/arm64", hexShort(arm))
	b.shot("manifest-image")

	// The package uploaded by twine.
	b.open("/ui/repositories/pypi-hosted")
	b.click(`a[href="/ui/repositories/pypi-hosted/packages/arca-ui-demo"]`)
	b.wantText("arca-ui-demo", "0.1.0", filepath.Base(dists[0]), filepath.Base(dists[1]), wheelSHA,
		"pip install --index-url "+srv.URL+"/pypi/pypi-hosted/simple/ arca-ui-demo==0.1.0")
	b.shot("pypi-project")

	// Raw files by prefix, with a download.
	b.open("/ui/repositories/files")
	b.wantText("datasets/", "models/", "README.txt")
	b.click(`a[href*="prefix=datasets"]`)
	b.wantText("train.csv", "test.csv")
	b.shot("files")

	// A token, shown once.
	b.open("/ui/account")
	b.fill(`form[action="/ui/account/tokens"] input[name=name]`, "laptop")
	b.click(`form[action="/ui/account/tokens"] button[type=submit]`)
	secret := b.text(".secret code")
	if !strings.HasPrefix(secret, "arca_") {
		t.Fatalf("the new token is not shown: %q", secret)
	}
	wantStatus(t, curl(t, nil, "-H", "Authorization: Bearer "+secret, srv.URL+"/api/v1/whoami"), http.StatusOK, "the token made in the UI")
	b.shot("account")

	// Administration pages.
	for _, p := range []string{"/ui/admin", "/ui/admin/users", "/ui/admin/gc", "/ui/admin/repositories/ui-made"} {
		b.open(p)
	}
	b.open("/ui/admin/users")
	b.shot("admin-users")
	b.open("/ui/admin/audit")
	b.wantText("repository.create", "ui-made")
	b.shot("audit")
	b.open("/ui/experiments")
	b.open("/ui/models")
	b.open("/")
	b.shot("dashboard")

	// A post with the browser's session but without the anti-forgery token,
	// the way a forged form would arrive, is refused; with it, it works.
	csrf, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('input[name=csrf]').value`))
	if err != nil {
		t.Fatal(err)
	}
	post := func(form url.Values) int {
		req, err := http.NewRequest("POST", srv.URL+"/ui/account/tokens", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Cookie", b.cookieHeader())
		req.Header.Set("Origin", srv.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := post(url.Values{"name": {"forged"}, "ttl": {""}}); st != http.StatusForbidden {
		t.Fatalf("POST without the csrf field: %d, want 403", st)
	}
	if st := post(url.Values{"name": {"forged"}, "ttl": {""}, "csrf": {"x" + csrf[1:]}}); st != http.StatusForbidden {
		t.Fatalf("POST with a wrong csrf field: %d, want 403", st)
	}
	if st := post(url.Values{"name": {"genuine"}, "ttl": {""}, "csrf": {csrf}}); st != http.StatusOK {
		t.Fatalf("POST with the page's csrf field: %d, want 200", st)
	}

	// Phone width and dark mode.
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	b.open("/ui/repositories/library")
	wide, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('body *'))
		.filter(e => e.getBoundingClientRect().right > 391 && !e.closest('.table-wrap, pre'))
		.map(e => e.tagName + '.' + e.className)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(wide) > 0 {
		t.Errorf("at phone width, elements stick out of the screen: %v", wide)
	}
	b.shot("phone-repository")
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatal(err)
	}
	b.open("/ui/repositories/library/manifests/" + idx.digest + "/demo")
	b.shot("dark-manifest")

	// The checks see what they must: an error status and a console error.
	if err := chromedp.Do(b.ctx, chromedp.Navigate(srv.URL+"/ui/no-such-page"),
		chromedp.Evaluate[chromedp.Void](`console.error("probe of the console check")`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	b.mu.Lock()
	seen := strings.Join(b.problems, "\n")
	b.problems = nil
	b.mu.Unlock()
	if !strings.Contains(seen, "no-such-page answered 404") || !strings.Contains(seen, "probe of the console check") {
		t.Fatalf("the page checks miss an error status or a console error; they saw:\n%s", seen)
	}

	// Sign out.
	b.click(`form[action="/ui/logout"] button`)
	if loc := b.location(); loc != "/ui/login" {
		t.Fatalf("after signing out: at %s", loc)
	}
	time.Sleep(300 * time.Millisecond) // late console messages of the last page
	b.failOnProblems("at the end")
	srv.WantNoServerErrors()
}

// hexShort is how the UI abbreviates a digest.
func hexShort(d string) string {
	h := strings.TrimPrefix(d, "sha256:")
	if _, err := hex.DecodeString(h); err != nil || len(h) < 12 {
		return d
	}
	return h[:12]
}
