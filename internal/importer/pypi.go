package importer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/arcaproject/arca/internal/pypi"
)

// PyPISource is where Python packages come from: a package directory as
// pypiserver serves it (Dir), or a simple index (Index: PEP 691 JSON or
// PEP 503 HTML; Nexus, devpi, Artifactory, pypiserver, another arca).
type PyPISource struct {
	Dir   string
	Index string
	// Username and Password authenticate to the index (and to files on
	// its host, never elsewhere).
	Username, Password string
	// Client reaches the index; nil means http.DefaultClient.
	Client *http.Client
	// Workers is how many files move at once (default 4).
	Workers int
}

// PyPITarget is arca's PyPI surface (*pypi.Handler).
type PyPITarget interface {
	HostedFile(ctx context.Context, repository, project, filename string) (sha256 string, ok bool, err error)
	Import(ctx context.Context, repository string, f pypi.ImportFile) (present bool, err error)
}

// pypiFile is one file to import.
type pypiFile struct {
	project string // normalized
	link    pypi.File
	path    string // in a package directory
}

// ImportPyPI imports every distribution file of src into the hosted PyPI
// repository repository, through arca's upload path (the file's own
// metadata is checked and extracted, audit records pypi.import). The
// source's sha256 is verified as the bytes stream in; upload times,
// yanked states and reasons are kept. A file arca has with the same name
// and sha256 is skipped; one with other content fails (arca never
// replaces a file).
func ImportPyPI(ctx context.Context, src PyPISource, dst PyPITarget, repository string, opts Options, r *Report) error {
	if src.Client == nil {
		src.Client = http.DefaultClient
	}
	if src.Workers <= 0 {
		src.Workers = 4
	}
	work := make(chan pypiFile)
	var wg sync.WaitGroup
	for range src.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				if ctx.Err() == nil {
					importPyPIFile(ctx, src, dst, repository, f, opts, r)
				}
			}
		}()
	}
	var err error
	if src.Dir != "" {
		err = walkPackageDir(ctx, src.Dir, work, r)
	} else {
		err = walkIndex(ctx, src, work, r)
	}
	close(work)
	wg.Wait()
	if err != nil {
		return err
	}
	return ctx.Err()
}

func importPyPIFile(ctx context.Context, src PyPISource, dst PyPITarget, repository string, f pypiFile, opts Options, r *Report) {
	name := f.link.Filename
	if f.path != "" && f.link.SHA256 == "" {
		sum, size, err := hashFile(f.path)
		if err != nil {
			r.Fail("file", name, err)
			return
		}
		f.link.SHA256, f.link.Size = sum, size
	}
	have, ok, err := dst.HostedFile(ctx, repository, f.project, name)
	switch {
	case err != nil:
		r.Fail("file", name, err)
		return
	case ok && f.link.SHA256 != "" && have == f.link.SHA256:
		r.Skipped("file", name, max(f.link.Size, 0))
		return
	case ok:
		r.Fail("file", name, fmt.Errorf("arca's %s has %s with other content (sha256 %s)", repository, name, have))
		return
	case opts.DryRun:
		if f.link.Size < 0 && f.link.URL != "" {
			f.link.Size = headSize(ctx, src, f.link.URL)
		}
		r.Planned("file", name, max(f.link.Size, 0))
		return
	}
	var body io.ReadCloser
	size := f.link.Size
	if f.path != "" {
		file, err := os.Open(f.path)
		if err != nil {
			r.Fail("file", name, err)
			return
		}
		body = file
	} else {
		resp, err := get(ctx, src, f.link.URL, "")
		if err != nil {
			r.Fail("file", name, err)
			return
		}
		body = resp.Body
		if size < 0 {
			size = resp.ContentLength
		}
	}
	defer body.Close()
	present, err := dst.Import(ctx, repository, pypi.ImportFile{Filename: name, Project: f.project, Body: body, Size: size,
		SHA256: f.link.SHA256, MD5: f.link.MD5, UploadTime: f.link.UploadTime, Yanked: f.link.Yanked, YankedReason: f.link.YankedReason})
	switch {
	case err != nil:
		r.Fail("file", name, err)
	case present:
		r.Skipped("file", name, max(size, 0))
	default:
		r.Imported("file", name, max(size, 0))
	}
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// distribution reports whether a file name is one arca's PyPI
// repositories take (a wheel or an sdist).
func distribution(name string) bool {
	return strings.HasSuffix(name, ".whl") || strings.HasSuffix(name, ".tar.gz") || strings.HasSuffix(name, ".zip")
}

// walkPackageDir sends the distribution files of a pypiserver package
// directory (and its subdirectories), in name order. Files of other kinds
// (eggs, .tar.bz2) are reported failed: arca does not take them.
func walkPackageDir(ctx context.Context, dir string, work chan<- pypiFile, r *Report) error {
	var files []pypiFile
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != dir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		if strings.HasPrefix(name, ".") || !d.Type().IsRegular() {
			return nil
		}
		if !distribution(name) {
			r.Fail("file", name, fmt.Errorf("not a wheel or an sdist (.whl, .tar.gz, .zip): not imported"))
			return nil
		}
		fn, perr := pypi.ParseFilename(name, "")
		if perr != nil {
			r.Fail("file", name, perr)
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files = append(files, pypiFile{project: fn.Project, path: p,
			link: pypi.File{Filename: name, Size: -1, UploadTime: info.ModTime().UnixMilli()}})
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading %s: %w", dir, err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].link.Filename < files[j].link.Filename })
	for _, f := range files {
		select {
		case work <- f:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Accept headers of the simple API: JSON preferred, HTML understood.
const simpleAccept = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"

// get fetches a URL of the index, with the index's credentials when it is
// on the index's host.
func get(ctx context.Context, src PyPISource, target, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if src.Username != "" {
		if iu, err := url.Parse(src.Index); err == nil && iu.Host == req.URL.Host && iu.Scheme == req.URL.Scheme {
			req.SetBasicAuth(src.Username, src.Password)
		}
	}
	resp, err := src.Client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %d %s", target, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return resp, nil
}

// headSize asks the index for a file's size (simple indexes before PEP
// 700 list none), or returns -1.
func headSize(ctx context.Context, src PyPISource, target string) int64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, target, nil)
	if err != nil {
		return -1
	}
	if iu, err := url.Parse(src.Index); err == nil && src.Username != "" && iu.Host == req.URL.Host {
		req.SetBasicAuth(src.Username, src.Password)
	}
	resp, err := src.Client.Do(req)
	if err != nil {
		return -1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return -1
	}
	return resp.ContentLength
}

// maxIndexPage bounds one page of the index read into memory.
const maxIndexPage = 64 << 20

func getPage(ctx context.Context, src PyPISource, target string) ([]byte, string, *url.URL, error) {
	resp, err := get(ctx, src, target, simpleAccept)
	if err != nil {
		return nil, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxIndexPage+1))
	if err != nil {
		return nil, "", nil, err
	}
	if len(b) > maxIndexPage {
		return nil, "", nil, fmt.Errorf("GET %s: the page is larger than %d bytes", target, maxIndexPage)
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return b, ct, resp.Request.URL, nil
}

// walkIndex sends the files of every project of a simple index.
func walkIndex(ctx context.Context, src PyPISource, work chan<- pypiFile, r *Report) error {
	index := src.Index
	if !strings.HasSuffix(index, "/") {
		index += "/"
	}
	page, ct, base, err := getPage(ctx, src, index)
	if err != nil {
		return fmt.Errorf("reading the index: %w", err)
	}
	type project struct{ name, url string }
	var projects []project
	if strings.HasSuffix(ct, "json") {
		var doc struct {
			Projects []struct {
				Name string `json:"name"`
			} `json:"projects"`
		}
		if err := json.Unmarshal(page, &doc); err != nil {
			return fmt.Errorf("reading the index: %w", err)
		}
		for _, p := range doc.Projects {
			u, err := base.Parse(pypi.Normalize(p.Name) + "/")
			if err == nil {
				projects = append(projects, project{name: p.Name, url: u.String()})
			}
		}
	} else {
		links, err := pypi.ParseSimpleHTML(page, base)
		if err != nil {
			return fmt.Errorf("reading the index: %w", err)
		}
		for _, l := range links {
			projects = append(projects, project{name: l.Filename, url: l.URL})
		}
	}
	for _, p := range projects {
		if err := ctx.Err(); err != nil {
			return err
		}
		norm := pypi.Normalize(p.name)
		page, ct, base, err := getPage(ctx, src, p.url)
		if err != nil {
			r.Fail("project", p.name, err)
			continue
		}
		var files []pypi.File
		if strings.HasSuffix(ct, "json") {
			_, files, err = pypi.ParseSimpleJSON(page, base)
		} else {
			files, err = pypi.ParseSimpleHTML(page, base)
		}
		if err != nil {
			r.Fail("project", p.name, err)
			continue
		}
		for _, f := range files {
			if !distribution(f.Filename) {
				r.Fail("file", f.Filename, fmt.Errorf("not a wheel or an sdist (.whl, .tar.gz, .zip): not imported"))
				continue
			}
			select {
			case work <- pypiFile{project: norm, link: f}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}
