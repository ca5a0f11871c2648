package importer

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/arcaproject/arca/internal/repo"
)

// NexusSource is one repository of a Sonatype Nexus Repository 3, read
// through its REST API (GET /service/rest/v1/components?repository=,
// paged with continuationToken), to import into one arca repository.
type NexusSource struct {
	URL                string // the Nexus base URL (http://nexus:8081)
	Repository         string // the Nexus repository
	Username, Password string
	// To is the arca repository (created hosted when absent), of the
	// format matching the Nexus repository's: maven2 → maven, pypi, npm,
	// raw, docker → oci.
	To string
	// DockerURL is the registry address of a docker repository (its
	// connector port): docker images are read through the distribution
	// API, as `arca import oci` does.
	DockerURL string
}

// NexusPage is one page of GET /service/rest/v1/components.
type NexusPage struct {
	Items             []NexusComponent `json:"items"`
	ContinuationToken *string          `json:"continuationToken"`
}

// NexusComponent is a component with its assets.
type NexusComponent struct {
	Repository string       `json:"repository"`
	Format     string       `json:"format"`
	Group      string       `json:"group"`
	Name       string       `json:"name"`
	Version    string       `json:"version"`
	Assets     []NexusAsset `json:"assets"`
}

// NexusAsset is one file of a component.
type NexusAsset struct {
	DownloadURL string            `json:"downloadUrl"`
	Path        string            `json:"path"`
	Checksum    map[string]string `json:"checksum"`
	FileSize    int64             `json:"fileSize"`
}

// ParseNexusPage parses a components page.
func ParseNexusPage(b []byte) (*NexusPage, error) {
	var p NexusPage
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("components page: %w", err)
	}
	return &p, nil
}

// nexusFormats maps Nexus formats to arca's.
var nexusFormats = map[string]string{"maven2": "maven", "pypi": "pypi", "npm": "npm", "raw": "raw", "docker": "oci"}

// nexusMaxPages bounds the pages of one import (a server that never
// stops handing out continuation tokens).
const nexusMaxPages = 1 << 20

// Nexus imports a Nexus repository's components: maven2, pypi and raw
// assets file by file (each checked against the checksums Nexus lists
// while it streams, and skipped when arca has the same bytes at the same
// path), npm packages through the npm source, docker images through the
// OCI source.
func Nexus(ctx context.Context, t Target, src NexusSource, opts Options, r *Report) error {
	base, err := url.Parse(strings.TrimSuffix(src.URL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("--url %q: want http(s)://host[:port][/path]", src.URL)
	}
	if src.Repository == "" {
		return fmt.Errorf("--repository (the Nexus repository) is required")
	}
	if err := repo.ValidateName(src.To); err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	moved := new(atomic.Int64)
	n := &nexusImport{src: src, base: base, fetch: t.fetch(), local: t.local("nexus", moved), moved: moved, opts: opts, r: r}
	var format string
	var npmNames, images []string
	seen := map[string]bool{}
	token := ""
	for pages := 0; ; pages++ {
		if pages >= nexusMaxPages {
			return fmt.Errorf("more than %d pages of components", nexusMaxPages)
		}
		page, err := n.page(ctx, token)
		if err != nil {
			return err
		}
		for _, c := range page.Items {
			if err := ctx.Err(); err != nil {
				return err
			}
			if format == "" {
				if format = c.Format; nexusFormats[format] == "" {
					return fmt.Errorf("Nexus repository %s is of format %q; arca imports %s", src.Repository, format, "maven2, pypi, npm, raw and docker")
				}
				if format != "npm" && format != "docker" {
					if err := ensureRepository(ctx, n.local, src.To, nexusFormats[format], opts, r); err != nil {
						return err
					}
				}
			}
			if c.Format != format {
				r.Fail("component", c.Name, fmt.Errorf("format %s in a %s repository", c.Format, format))
				continue
			}
			switch format {
			case "npm":
				name := c.Name
				if c.Group != "" {
					name = "@" + strings.TrimPrefix(c.Group, "@") + "/" + c.Name
				}
				if !seen[name] {
					seen[name] = true
					npmNames = append(npmNames, name)
				}
			case "docker":
				if !seen[c.Name] {
					seen[c.Name] = true
					images = append(images, c.Name)
				}
			default:
				for _, a := range c.Assets {
					n.asset(ctx, format, c, a)
				}
			}
		}
		if page.ContinuationToken == nil || *page.ContinuationToken == "" {
			break
		}
		if *page.ContinuationToken == token {
			return fmt.Errorf("Nexus handed out the same continuation token twice")
		}
		token = *page.ContinuationToken
	}
	switch {
	case len(npmNames) > 0:
		return NPM(ctx, t, NPMSource{URL: base.String() + "/repository/" + url.PathEscape(src.Repository), Packages: npmNames,
			Username: src.Username, Password: src.Password, Repository: src.To}, opts, r)
	case len(images) > 0 && src.DockerURL == "":
		return fmt.Errorf("%s is a docker repository: give its registry address (the connector) with --docker-url", src.Repository)
	case len(images) > 0:
		return OCI(ctx, t, OCISource{URL: src.DockerURL, Username: src.Username, Password: src.Password,
			Repositories: images, Prefix: src.To}, opts, r)
	}
	return nil
}

type nexusImport struct {
	src   NexusSource
	base  *url.URL
	fetch *http.Client
	local *http.Client
	moved *atomic.Int64
	opts  Options
	r     *Report
}

// auth is Nexus's credentials, for URLs on its own host only.
func (n *nexusImport) auth(u *url.URL) http.Header {
	h := http.Header{}
	if u.Host == n.base.Host && (n.src.Username != "" || n.src.Password != "") {
		(&http.Request{Header: h}).SetBasicAuth(n.src.Username, n.src.Password)
	}
	return h
}

func (n *nexusImport) page(ctx context.Context, token string) (*NexusPage, error) {
	q := url.Values{"repository": {n.src.Repository}}
	if token != "" {
		q.Set("continuationToken", token)
	}
	u := n.base.String() + "/service/rest/v1/components?" + q.Encode()
	hdr := n.auth(n.base)
	hdr.Set("Accept", "application/json")
	resp, err := do(ctx, n.fetch, http.MethodGet, u, nil, hdr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	return ParseNexusPage(b)
}

// isChecksumFile reports whether p is a checksum beside a Maven file,
// which arca computes itself.
func isChecksumFile(p string) bool {
	for _, ext := range []string{".md5", ".sha1", ".sha256", ".sha512"} {
		if strings.HasSuffix(p, ext) {
			return true
		}
	}
	return false
}

// asset imports one maven2, pypi or raw file.
func (n *nexusImport) asset(ctx context.Context, format string, c NexusComponent, a NexusAsset) {
	p := strings.TrimPrefix(a.Path, "/")
	if format == "maven2" && (isChecksumFile(p) || path.Base(p) == "maven-metadata.xml") {
		return
	}
	if p == "" || slices.Contains(strings.Split(p, "/"), "..") {
		n.r.Fail("file", a.Path, fmt.Errorf("unusable asset path"))
		return
	}
	present, err := n.present(ctx, format, c, p, a)
	switch {
	case err != nil:
		n.r.Fail("file", p, err)
		return
	case present:
		n.r.Skipped("file", p, a.FileSize)
		return
	case n.opts.DryRun:
		n.r.Planned("file", p, a.FileSize)
		return
	}
	u, err := n.base.Parse(a.DownloadURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		n.r.Fail("file", p, fmt.Errorf("downloadUrl %q is not an http(s) URL", a.DownloadURL))
		return
	}
	resp, err := do(ctx, n.fetch, http.MethodGet, u.String(), nil, n.auth(u))
	if err != nil {
		n.r.Fail("file", p, err)
		return
	}
	defer resp.Body.Close()
	body := &checkedReader{r: resp.Body, want: a.Checksum, sums: checksumHashes(a.Checksum)}
	before := n.moved.Load()
	switch format {
	case "pypi":
		err = n.uploadPyPI(ctx, c, path.Base(p), body, a.Checksum["sha256"])
	default:
		err = n.put(ctx, format, p, body, resp.ContentLength, a.Checksum)
	}
	if err != nil {
		if body.err != nil {
			err = body.err
		}
		n.r.Fail("file", p, err)
		return
	}
	n.r.Imported("file", p, n.moved.Load()-before)
}

func (n *nexusImport) arcaPath(format, p string) string {
	prefix := map[string]string{"maven2": "/maven/", "raw": "/raw/"}[format]
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return localURL.String() + prefix + url.PathEscape(n.src.To) + "/" + strings.Join(segs, "/")
}

// present reports whether arca has the asset's bytes at its path (by the
// checksum arca answers with).
func (n *nexusImport) present(ctx context.Context, format string, c NexusComponent, p string, a NexusAsset) (bool, error) {
	if format == "pypi" {
		return n.pypiHas(ctx, c.Name, path.Base(p), a.Checksum["sha256"])
	}
	resp, err := do(ctx, n.local, http.MethodHead, n.arcaPath(format, p), nil, nil)
	if code := statusOf(err); code == http.StatusNotFound || code == http.StatusUnauthorized {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	if want := a.Checksum["sha256"]; want != "" && resp.Header.Get("X-Checksum-Sha256") != "" {
		return strings.EqualFold(resp.Header.Get("X-Checksum-Sha256"), want), nil
	}
	if want := a.Checksum["sha1"]; want != "" && resp.Header.Get("X-Checksum-Sha1") != "" {
		return strings.EqualFold(resp.Header.Get("X-Checksum-Sha1"), want), nil
	}
	return false, nil
}

// put uploads a maven2 or raw file.
func (n *nexusImport) put(ctx context.Context, format, p string, body io.Reader, size int64, sums map[string]string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, n.arcaPath(format, p), body)
	if err != nil {
		return err
	}
	req.ContentLength = size
	if format == "raw" {
		for alg, h := range map[string]string{"sha256": "X-Checksum-Sha256", "sha1": "X-Checksum-Sha1", "md5": "X-Checksum-Md5"} {
			if v := sums[alg]; v != "" {
				req.Header.Set(h, v)
			}
		}
	}
	resp, err := n.local.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return &statusError{method: "PUT", url: req.URL.String(), code: resp.StatusCode, body: string(b)}
	}
	return nil
}

// pypiHas reports whether arca's project lists file with the digest.
func (n *nexusImport) pypiHas(ctx context.Context, project, file, sha256 string) (bool, error) {
	var page struct {
		Files []struct {
			Filename string            `json:"filename"`
			Hashes   map[string]string `json:"hashes"`
		} `json:"files"`
	}
	u := localURL.String() + "/pypi/" + url.PathEscape(n.src.To) + "/simple/" + url.PathEscape(project) + "/"
	err := getJSON(ctx, n.local, u, http.Header{"Accept": {"application/vnd.pypi.simple.v1+json"}}, 64<<20, &page)
	if statusOf(err) == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, f := range page.Files {
		if f.Filename == file {
			return sha256 == "" || strings.EqualFold(f.Hashes["sha256"], sha256), nil
		}
	}
	return false, nil
}

// uploadPyPI uploads a file as twine does (the legacy upload API), its
// bytes streamed into the form.
func (n *nexusImport) uploadPyPI(ctx context.Context, c NexusComponent, file string, body io.Reader, sha256 string) error {
	filetype, pyversion := "sdist", "source"
	if strings.HasSuffix(file, ".whl") {
		filetype = "bdist_wheel"
		if parts := strings.Split(strings.TrimSuffix(file, ".whl"), "-"); len(parts) >= 5 {
			pyversion = parts[len(parts)-3]
		}
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			for _, f := range [][2]string{{":action", "file_upload"}, {"protocol_version", "1"}, {"name", c.Name},
				{"version", c.Version}, {"filetype", filetype}, {"pyversion", pyversion}, {"sha256_digest", sha256}} {
				if f[1] == "" {
					continue
				}
				if err := mw.WriteField(f[0], f[1]); err != nil {
					return err
				}
			}
			part, err := mw.CreateFormFile("content", file)
			if err != nil {
				return err
			}
			if _, err := io.Copy(part, body); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	resp, err := do(ctx, n.local, http.MethodPost, localURL.String()+"/pypi/"+url.PathEscape(n.src.To)+"/", pr,
		http.Header{"Content-Type": {mw.FormDataContentType()}})
	pr.Close()
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// checkedReader hashes what it reads and, at the end, fails instead of
// returning io.EOF when a digest differs from the one the source listed:
// the upload it feeds then fails, and arca stores nothing.
type checkedReader struct {
	r    io.Reader
	want map[string]string
	sums map[string]hash.Hash
	err  error
}

func checksumHashes(want map[string]string) map[string]hash.Hash {
	out := map[string]hash.Hash{}
	for alg := range want {
		switch alg {
		case "md5":
			out[alg] = md5.New()
		case "sha1":
			out[alg] = sha1.New()
		case "sha256":
			out[alg] = sha256.New()
		case "sha512":
			out[alg] = sha512.New()
		}
	}
	return out
}

func (c *checkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	k, err := c.r.Read(p)
	for _, h := range c.sums {
		h.Write(p[:k])
	}
	if err == io.EOF {
		for alg, h := range c.sums {
			if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, c.want[alg]) {
				c.err = fmt.Errorf("the download does not match its %s checksum in Nexus (%s, Nexus says %s)", alg, got, c.want[alg])
				return k, c.err
			}
		}
	}
	return k, err
}
