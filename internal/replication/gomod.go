package replication

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// goRep replicates a Go module repository of arca: modules and their
// versions from the hosted listing (GET /go/<repo>/@modules, with each
// version's go.sum hash), each missing version's module zip read through
// the GOPROXY protocol and published as `arca go publish` does (PUT of the
// zip), which checks it again and derives .mod and .info from it.
type goRep struct {
	src, dst *side
}

// goModule is a module of the listing with its versions.
type goModule struct {
	Path     string      `json:"path"`
	Versions []goVersion `json:"versions"`
}

type goVersion struct {
	Version string `json:"version"`
	H1      string `json:"h1"`
	Size    int64  `json:"size"`
}

// maxGoListPages bounds a listing (1000 modules a page).
const maxGoListPages = 10000

func (sd *side) goBase() string { return "/go/" + url.PathEscape(sd.repository) }

// goVersionPath is the GOPROXY path of a version's file (suffix .zip, or
// "" for the version itself, as DELETE takes it).
func (sd *side) goVersionPath(mod, version, suffix string) (string, error) {
	em, err := module.EscapePath(mod)
	if err != nil {
		return "", err
	}
	ev, err := module.EscapeVersion(version)
	if err != nil {
		return "", err
	}
	return sd.goBase() + "/" + escapePath(em) + "/@v/" + url.PathEscape(ev) + suffix, nil
}

// goModules lists a side's modules with their versions: every module, or
// only the one named (none when the side lacks it).
func (sd *side) goModules(ctx context.Context, only string) (map[string]map[string]goVersion, []string, error) {
	out := map[string]map[string]goVersion{}
	var order []string
	after := ""
	for page := 0; page < maxGoListPages; page++ {
		q := url.Values{"limit": {"1000"}}
		if only != "" {
			q = url.Values{"module": {only}}
		} else if after != "" {
			q.Set("after", after)
		}
		var l struct {
			Modules []goModule `json:"modules"`
			Next    string     `json:"next"`
		}
		if err := sd.getJSON(ctx, sd.goBase()+"/@modules?"+q.Encode(), "application/json", &l); err != nil {
			return nil, nil, err
		}
		for _, m := range l.Modules {
			if _, seen := out[m.Path]; !seen {
				order = append(order, m.Path)
				out[m.Path] = map[string]goVersion{}
			}
			for _, v := range m.Versions {
				out[m.Path][v.Version] = v
			}
		}
		if only != "" || l.Next == "" {
			return out, order, nil
		}
		if l.Next <= after {
			return nil, nil, fmt.Errorf("the module listing of %s does not advance past %q", sd.repository, after)
		}
		after = l.Next
	}
	return nil, nil, fmt.Errorf("the module listing of %s has more than %d pages", sd.repository, maxGoListPages)
}

func (r *goRep) sync(ctx context.Context, rc *runCtx) error {
	src, order, err := r.src.goModules(ctx, "")
	if err != nil {
		return err
	}
	dst, dstOrder, err := r.dst.goModules(ctx, "")
	if err != nil {
		return err
	}
	f := rc.p.Filter
	for _, mod := range order {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !matchAny(f.Names, mod) {
			continue
		}
		for _, v := range semverKeys(src[mod]) {
			if matchAny(f.Versions, v) {
				r.copy(ctx, rc, mod, src[mod][v], dst[mod])
			}
		}
	}
	if !rc.p.Deletes {
		return nil
	}
	for _, mod := range dstOrder {
		if !matchAny(f.Names, mod) {
			continue
		}
		for _, v := range semverKeys(dst[mod]) {
			if _, ok := src[mod][v]; !ok && matchAny(f.Versions, v) {
				r.delete(ctx, rc, mod, v)
			}
		}
	}
	return nil
}

// copy publishes one version at the destination unless it has it with
// the same go.sum hash. A version it holds with another hash is replaced
// only by a policy that propagates deletes (versions never change: it is
// deleted, then published again); otherwise the item fails.
func (r *goRep) copy(ctx context.Context, rc *runCtx, mod string, v goVersion, have map[string]goVersion) {
	item := mod + "@" + v.Version
	if d, ok := have[v.Version]; ok && d.H1 == v.H1 {
		rc.item(item, Skipped, 0, nil)
		return
	} else if ok {
		if !rc.p.Deletes {
			rc.item(item, Errored, 0, fmt.Errorf("the destination has %s with another go.sum hash (%s, the source %s); a policy with deletes replaces it", item, d.H1, v.H1))
			return
		}
		p, err := r.dst.goVersionPath(mod, v.Version, "")
		if err == nil {
			var resp *http.Response
			if resp, err = r.dst.request(ctx, http.MethodDelete, p, nil, 0, nil); err == nil {
				resp.Body.Close()
			}
		}
		if err != nil && statusOf(err) != http.StatusNotFound {
			rc.item(item, Errored, 0, err)
			return
		}
	}
	rc.copyMeasured(item, func() (bool, error) { return false, r.publish(ctx, mod, v) })
}

// publish streams a version's zip from the source to the destination and
// checks that the destination hashed it as the source did.
func (r *goRep) publish(ctx context.Context, mod string, v goVersion) error {
	from, err := r.src.goVersionPath(mod, v.Version, ".zip")
	if err != nil {
		return err
	}
	to, err := r.dst.goVersionPath(mod, v.Version, ".zip")
	if err != nil {
		return err
	}
	resp, err := r.src.request(ctx, http.MethodGet, from, nil, 0, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	put, err := r.dst.request(ctx, http.MethodPut, to, resp.Body, resp.ContentLength, http.Header{"Content-Type": {"application/zip"}})
	if err != nil {
		return err
	}
	defer put.Body.Close()
	// The answer is "<module> <version> h1:...".
	b, _ := io.ReadAll(io.LimitReader(put.Body, 4096))
	if f := strings.Fields(string(b)); v.H1 != "" && (len(f) < 3 || f[2] != v.H1) {
		return fmt.Errorf("the destination hashed %s@%s as %q, the source as %s", mod, v.Version, strings.TrimSpace(string(b)), v.H1)
	}
	return nil
}

func (r *goRep) delete(ctx context.Context, rc *runCtx, mod, version string) {
	item := mod + "@" + version
	p, err := r.dst.goVersionPath(mod, version, "")
	if err != nil {
		rc.item(item, Errored, 0, err)
		return
	}
	resp, err := r.dst.request(ctx, http.MethodDelete, p, nil, 0, nil)
	if statusOf(err) == http.StatusNotFound {
		rc.item(item, Skipped, 0, nil)
		return
	}
	if err == nil {
		resp.Body.Close()
	}
	rc.item(item, Deleted, 0, err)
}

func (r *goRep) apply(ctx context.Context, rc *runCtx, changes []Change) error {
	for _, c := range changes {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		mod, version, ok := strings.Cut(c.Item, "@")
		if !ok || !matchAny(rc.p.Filter.Names, mod) || !matchAny(rc.p.Filter.Versions, version) {
			continue
		}
		switch {
		case c.Deleted && rc.p.Deletes:
			r.delete(ctx, rc, mod, version)
		case !c.Deleted:
			src, _, err := r.src.goModules(ctx, mod)
			if err != nil {
				rc.item(c.Item, Errored, 0, err)
				continue
			}
			v, ok := src[mod][version]
			if !ok {
				rc.item(c.Item, Skipped, 0, nil) // deleted from the source since
				continue
			}
			dst, _, err := r.dst.goModules(ctx, mod)
			if err != nil {
				rc.item(c.Item, Errored, 0, err)
				continue
			}
			r.copy(ctx, rc, mod, v, dst[mod])
		}
	}
	return nil
}

// semverKeys returns a module's versions, oldest first: a replica is
// published in the order the source was.
func semverKeys(m map[string]goVersion) []string {
	vs := slices.Collect(maps.Keys(m))
	semver.Sort(vs)
	return vs
}
