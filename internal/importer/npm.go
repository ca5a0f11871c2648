package importer

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/arcaproject/arca/internal/npm"
	"github.com/arcaproject/arca/internal/repo"
)

// NPMSource is an npm registry given a list of packages, or a Verdaccio
// storage directory, to import into a hosted npm repository of arca.
type NPMSource struct {
	// URL and Packages: a registry (Verdaccio, npmjs-like, Nexus's npm
	// repositories, another arca) and the packages to import from it.
	URL      string
	Packages []string
	// Username with Password (Basic) or Token (Bearer) for the registry.
	Username, Password, Token string
	// Storage is a Verdaccio storage directory (package.json and
	// tarballs of each package on disk), instead of URL.
	Storage string
	// Repository is the arca npm repository (created hosted when absent).
	Repository string
}

// Bounds on what a source may hand over.
const (
	npmMaxPackument = 64 << 20
	npmMaxTarball   = 1 << 30
)

// NPM imports every version of the source's packages, with their
// dist-tags and deprecations, through arca's own npm publish (the
// tarball checked against dist.integrity and dist.shasum while it
// streams, and again by arca). Versions arca has are skipped; the
// dist-tags and deprecations of the source are then applied to what arca
// has.
func NPM(ctx context.Context, t Target, src NPMSource, opts Options, r *Report) error {
	if err := repo.ValidateName(src.Repository); err != nil {
		return fmt.Errorf("--repo: %w", err)
	}
	var origin npmOrigin
	switch {
	case src.Storage != "" && src.URL != "":
		return fmt.Errorf("give --url (with --packages) or --verdaccio-storage, not both")
	case src.Storage != "":
		origin = &verdaccioStorage{dir: src.Storage}
	case src.URL != "":
		if len(src.Packages) == 0 {
			return fmt.Errorf("--packages is required with --url (a registry lists no packages)")
		}
		base, err := url.Parse(strings.TrimSuffix(src.URL, "/"))
		if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
			return fmt.Errorf("--url %q: want http(s)://host[/path]", src.URL)
		}
		origin = &npmRegistry{base: base, names: src.Packages, client: t.fetch(),
			username: src.Username, password: src.Password, token: src.Token}
	default:
		return fmt.Errorf("give --url with --packages, or --verdaccio-storage")
	}
	moved := new(atomic.Int64)
	n := &npmImport{origin: origin, local: t.local("npm", moved), repo: src.Repository, opts: opts, r: r}
	if err := ensureRepository(ctx, n.local, src.Repository, "npm", opts, r); err != nil {
		return err
	}
	names, err := origin.packages(ctx)
	if err != nil {
		return err
	}
	for _, s := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		name, err := npm.ParseName(s)
		if err != nil {
			r.Fail("package", s, err)
			continue
		}
		if err := n.pkg(ctx, name); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.Fail("package", name.String(), err)
		}
	}
	return ctx.Err()
}

// npmOrigin is where packages come from.
type npmOrigin interface {
	packages(ctx context.Context) ([]string, error)
	// packument returns the package's full document.
	packument(ctx context.Context, name npm.Name) ([]byte, error)
	// tarball opens a version's tarball and tells its size (-1: unknown);
	// fs.ErrNotExist when the source has no tarball for it.
	tarball(ctx context.Context, name npm.Name, version, distURL string) (io.ReadCloser, int64, error)
}

// Packument is the part of a package's document an import reads.
type Packument struct {
	Versions map[string]json.RawMessage `json:"versions"`
	DistTags map[string]string          `json:"dist-tags"`
	Rev      string                     `json:"_rev"`
}

// ParsePackument parses a package document from a source.
func ParsePackument(b []byte) (*Packument, error) {
	var p Packument
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("package document: %w", err)
	}
	if p.Versions == nil {
		p.Versions = map[string]json.RawMessage{}
	}
	return &p, nil
}

// versionInfo is what an import reads of one version's manifest.
type versionInfo struct {
	fields     map[string]json.RawMessage
	tarball    string
	want       npm.Integrity
	deprecated string
}

func parseVersion(raw json.RawMessage) (*versionInfo, error) {
	m, err := npm.ParseManifest(raw)
	if err != nil {
		return nil, err
	}
	dist := m.Dist()
	want, err := npm.ParseIntegrity(dist)
	if err != nil {
		return nil, err
	}
	var tarball string
	json.Unmarshal(dist["tarball"], &tarball)
	return &versionInfo{fields: m.Fields, tarball: tarball, want: want, deprecated: m.String("deprecated")}, nil
}

type npmImport struct {
	origin npmOrigin
	local  *http.Client
	repo   string
	opts   Options
	r      *Report
}

func (n *npmImport) path(name npm.Name) string {
	return localURL.String() + "/npm/" + url.PathEscape(n.repo) + "/" + name.Escaped()
}

// arcaPackument is the package's full document in arca (empty when arca
// has none).
func (n *npmImport) arcaPackument(ctx context.Context, name npm.Name) (*Packument, []byte, error) {
	resp, err := do(ctx, n.local, http.MethodGet, n.path(name)+"?write=true", nil, http.Header{"Accept": {"application/json"}})
	if statusOf(err) == http.StatusNotFound {
		return &Packument{Versions: map[string]json.RawMessage{}}, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, npmMaxPackument))
	if err != nil {
		return nil, nil, err
	}
	p, err := ParsePackument(b)
	return p, b, err
}

// pkg imports one package: its missing versions in semver order, then
// its dist-tags and deprecations.
func (n *npmImport) pkg(ctx context.Context, name npm.Name) error {
	raw, err := n.origin.packument(ctx, name)
	if err != nil {
		return err
	}
	src, err := ParsePackument(raw)
	if err != nil {
		return err
	}
	have, _, err := n.arcaPackument(ctx, name)
	if err != nil {
		return err
	}
	type sv struct {
		s string
		v npm.Version
	}
	var versions []sv
	for s := range src.Versions {
		v, err := npm.ParseVersion(s)
		if err != nil || v.String() != s {
			n.r.Fail("version", name.String()+"@"+s, fmt.Errorf("not a canonical semver version"))
			continue
		}
		versions = append(versions, sv{s, v})
	}
	slices.SortFunc(versions, func(a, b sv) int { return a.v.Compare(b.v) })
	for _, v := range versions {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		item := name.String() + "@" + v.s
		if _, ok := have.Versions[v.s]; ok {
			n.r.Skipped("version", item, 0)
			continue
		}
		info, err := parseVersion(src.Versions[v.s])
		if err != nil {
			n.r.Fail("version", item, err)
			continue
		}
		tags := map[string]string{}
		for tag, tv := range src.DistTags {
			if tv == v.s {
				tags[tag] = v.s
			}
		}
		n.version(ctx, name, v.s, info, tags)
	}
	if n.opts.DryRun {
		return nil
	}
	return n.metadata(ctx, name, src)
}

// version imports one version (or plans it, in a dry run).
func (n *npmImport) version(ctx context.Context, name npm.Name, version string, info *versionInfo, tags map[string]string) {
	item := name.String() + "@" + version
	body, size, err := n.origin.tarball(ctx, name, version, info.tarball)
	if errors.Is(err, fs.ErrNotExist) {
		// Verdaccio keeps the documents of packages it cached from an
		// uplink, without their tarballs.
		n.r.Add(Item{Kind: "version", Name: item, Outcome: Present, Reason: "no tarball at the source"})
		return
	}
	if err != nil {
		n.r.Fail("version", item, err)
		return
	}
	if n.opts.DryRun {
		body.Close()
		n.r.Planned("version", item, max(size, 0))
		return
	}
	sent, err := n.publish(ctx, name, version, info, tags, body, size)
	if err != nil {
		n.r.Fail("version", item, err)
		return
	}
	n.r.Imported("version", item, sent)
}

// publish sends `npm publish`'s document for one version to arca, its
// tarball streamed in base64 and hashed on the way: a tarball that does
// not match the source's dist.integrity or dist.shasum breaks the
// document off, so arca stores nothing. A version without either gets
// the digests computed here.
func (n *npmImport) publish(ctx context.Context, name npm.Name, version string, info *versionInfo, tags map[string]string,
	body io.ReadCloser, size int64) (int64, error) {
	fields := info.fields
	for _, k := range []string{"_id", "_npmUser", "_rev"} {
		delete(fields, k)
	}
	nameJSON, _ := json.Marshal(name.String())
	tagsJSON, _ := json.Marshal(tags)
	file, _ := json.Marshal(name.TarballFile(version))
	pr, pw := io.Pipe()
	failed := make(chan error, 1)
	var sent int64
	go func() {
		defer body.Close()
		err := func() error {
			var head bytes.Buffer
			fmt.Fprintf(&head, `{"_id":%s,"name":%s,"dist-tags":%s,"_attachments":{%s:{"content_type":"application/octet-stream",`,
				nameJSON, nameJSON, tagsJSON, file)
			if size >= 0 {
				fmt.Fprintf(&head, `"length":%d,`, size)
			}
			head.WriteString(`"data":"`)
			if _, err := pw.Write(head.Bytes()); err != nil {
				return err
			}
			h512, h1 := sha512.New(), sha1.New()
			enc := base64.NewEncoder(base64.StdEncoding, pw)
			k, err := io.Copy(enc, io.TeeReader(io.LimitReader(body, npmMaxTarball+1), io.MultiWriter(h512, h1)))
			if err != nil {
				return fmt.Errorf("reading the tarball: %w", err)
			}
			sent = k
			switch {
			case k > npmMaxTarball:
				return fmt.Errorf("tarball over %d bytes", npmMaxTarball)
			case size >= 0 && k != size:
				return fmt.Errorf("tarball of %d bytes, the source announced %d", k, size)
			}
			sum512, sum1 := hex.EncodeToString(h512.Sum(nil)), hex.EncodeToString(h1.Sum(nil))
			switch {
			case info.want.SHA512 != "" && info.want.SHA512 != sum512:
				return fmt.Errorf("tarball does not match dist.integrity (sha512 %s, the source says %s)", sum512, info.want.SHA512)
			case info.want.SHA1 != "" && info.want.SHA1 != sum1:
				return fmt.Errorf("tarball does not match dist.shasum (sha1 %s, the source says %s)", sum1, info.want.SHA1)
			}
			if err := enc.Close(); err != nil {
				return err
			}
			var dist map[string]json.RawMessage
			json.Unmarshal(fields["dist"], &dist)
			if dist == nil {
				dist = map[string]json.RawMessage{}
			}
			if info.want.SHA512 == "" && info.want.SHA1 == "" {
				dist["integrity"], _ = json.Marshal(npm.SRI(sum512))
				dist["shasum"], _ = json.Marshal(sum1)
			}
			fields["dist"], _ = json.Marshal(dist)
			manifest, err := json.Marshal(fields)
			if err != nil {
				return err
			}
			versionJSON, _ := json.Marshal(version)
			_, err = fmt.Fprintf(pw, `"}},"versions":{%s:%s}}`, versionJSON, manifest)
			return err
		}()
		failed <- err
		pw.CloseWithError(err)
	}()
	resp, err := do(ctx, n.local, http.MethodPut, n.path(name), pr, http.Header{"Content-Type": {"application/json"}})
	pr.CloseWithError(errors.New("publish ended"))
	if ferr := <-failed; ferr != nil {
		return 0, ferr
	}
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return sent, nil
}

// metadata applies the source's dist-tags and deprecations to the
// versions arca has, in one change of the package's document (as npm
// dist-tag and npm deprecate do); arca's other tags stay.
func (n *npmImport) metadata(ctx context.Context, name npm.Name, src *Packument) error {
	have, raw, err := n.arcaPackument(ctx, name)
	if err != nil || raw == nil {
		return err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return err
	}
	changed := false
	tags := map[string]string{}
	for t, v := range have.DistTags {
		tags[t] = v
	}
	for t, v := range src.DistTags {
		if _, ok := have.Versions[v]; ok && tags[t] != v {
			tags[t], changed = v, true
		}
	}
	for v, hraw := range have.Versions {
		sraw, ok := src.Versions[v]
		if !ok {
			continue
		}
		want, got := deprecationOf(sraw), deprecationOf(hraw)
		if want == got {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(hraw, &m); err != nil {
			return err
		}
		if want == "" {
			delete(m, "deprecated")
		} else {
			m["deprecated"], _ = json.Marshal(want)
		}
		have.Versions[v], _ = json.Marshal(m)
		changed = true
	}
	if !changed {
		return nil
	}
	doc["dist-tags"], _ = json.Marshal(tags)
	doc["versions"], _ = json.Marshal(have.Versions)
	body, _ := json.Marshal(doc)
	resp, err := do(ctx, n.local, http.MethodPut, n.path(name)+"/-rev/"+url.PathEscape(have.Rev), bytes.NewReader(body),
		http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return fmt.Errorf("dist-tags and deprecations: %w", err)
	}
	resp.Body.Close()
	n.r.Imported("metadata", name.String(), 0)
	return nil
}

// deprecationOf is a version manifest's deprecation message ("" when
// none).
func deprecationOf(raw json.RawMessage) string {
	var v struct {
		Deprecated any `json:"deprecated"`
	}
	json.Unmarshal(raw, &v)
	s, _ := v.Deprecated.(string)
	return s
}

// npmRegistry is a registry reached over HTTP.
type npmRegistry struct {
	base                      *url.URL
	names                     []string
	client                    *http.Client
	username, password, token string
}

func (g *npmRegistry) packages(context.Context) ([]string, error) { return g.names, nil }

// header is the registry's credentials, for URLs on its own host only.
func (g *npmRegistry) header(u *url.URL) http.Header {
	h := http.Header{}
	if u.Host != g.base.Host {
		return h
	}
	switch {
	case g.token != "":
		h.Set("Authorization", "Bearer "+g.token)
	case g.username != "" || g.password != "":
		req := &http.Request{Header: h}
		req.SetBasicAuth(g.username, g.password)
	}
	return h
}

func (g *npmRegistry) packument(ctx context.Context, name npm.Name) ([]byte, error) {
	hdr := g.header(g.base)
	hdr.Set("Accept", "application/json")
	resp, err := do(ctx, g.client, http.MethodGet, g.base.String()+"/"+name.Escaped(), nil, hdr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, npmMaxPackument+1))
	if err == nil && len(b) > npmMaxPackument {
		err = fmt.Errorf("the document of %s is over %d bytes", name, npmMaxPackument)
	}
	return b, err
}

func (g *npmRegistry) tarball(ctx context.Context, name npm.Name, version, distURL string) (io.ReadCloser, int64, error) {
	if distURL == "" {
		return nil, 0, fmt.Errorf("version %s has no dist.tarball", version)
	}
	u, err := g.base.Parse(distURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, 0, fmt.Errorf("dist.tarball %q is not an http(s) URL", distURL)
	}
	resp, err := do(ctx, g.client, http.MethodGet, u.String(), nil, g.header(u))
	if err != nil {
		return nil, 0, err
	}
	return resp.Body, resp.ContentLength, nil
}

// verdaccioStorage is Verdaccio's storage directory: <dir>/<name>/ and
// <dir>/@<scope>/<name>/, each with package.json (the package's document)
// and the tarballs <name>-<version>.tgz.
type verdaccioStorage struct{ dir string }

func (v *verdaccioStorage) packages(context.Context) ([]string, error) {
	entries, err := os.ReadDir(v.dir)
	if err != nil {
		return nil, fmt.Errorf("--verdaccio-storage: %w", err)
	}
	var out []string
	has := func(p string) bool { _, err := os.Stat(filepath.Join(p, "package.json")); return err == nil }
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if strings.HasPrefix(e.Name(), "@") {
			scoped, err := os.ReadDir(filepath.Join(v.dir, e.Name()))
			if err != nil {
				return nil, err
			}
			for _, s := range scoped {
				if s.IsDir() && has(filepath.Join(v.dir, e.Name(), s.Name())) {
					out = append(out, e.Name()+"/"+s.Name())
				}
			}
		} else if has(filepath.Join(v.dir, e.Name())) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// pkgDir is the directory of a package (a name parsed by npm.ParseName
// has no path separators but the scope's).
func (v *verdaccioStorage) pkgDir(name npm.Name) string {
	if name.Scope != "" {
		return filepath.Join(v.dir, "@"+name.Scope, name.Base)
	}
	return filepath.Join(v.dir, name.Base)
}

func (v *verdaccioStorage) packument(_ context.Context, name npm.Name) ([]byte, error) {
	f, err := os.Open(filepath.Join(v.pkgDir(name), "package.json"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, npmMaxPackument+1))
	if err == nil && len(b) > npmMaxPackument {
		err = fmt.Errorf("%s: over %d bytes", f.Name(), npmMaxPackument)
	}
	return b, err
}

func (v *verdaccioStorage) tarball(_ context.Context, name npm.Name, version, _ string) (io.ReadCloser, int64, error) {
	if strings.ContainsAny(version, `/\`) { // a parsed semver has neither; kept out of paths regardless
		return nil, 0, fs.ErrNotExist
	}
	f, err := os.Open(filepath.Join(v.pkgDir(name), name.TarballFile(version)))
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}
