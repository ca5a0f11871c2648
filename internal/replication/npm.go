package replication

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// npmRep replicates an npm repository of arca: packages from the search
// API, versions from packuments, each missing version published as `npm
// publish` does (its manifest and tarball in one document), which checks
// the tarball against the version's integrity again.
type npmRep struct {
	src, dst *side
}

// maxNPMTarball bounds a tarball replicated (it travels base64 in a JSON
// document, in memory).
const maxNPMTarball = 256 << 20

// npmPath is a package's path below the repository (@scope%2fname).
func (sd *side) npmPath(name string) string {
	return "/npm/" + url.PathEscape(sd.repository) + "/" + strings.Replace(url.PathEscape(name), "%40", "@", 1)
}

type packument struct {
	Versions map[string]json.RawMessage `json:"versions"`
	DistTags map[string]string          `json:"dist-tags"`
}

// packument returns a package's document (empty when the side lacks it).
func (sd *side) packument(ctx context.Context, name string) (packument, error) {
	var p packument
	err := sd.getJSON(ctx, sd.npmPath(name), "application/json", &p)
	if statusOf(err) == http.StatusNotFound {
		return packument{Versions: map[string]json.RawMessage{}}, nil
	}
	return p, err
}

// npmPackages lists a side's packages through its search API (at most
// about 10,000: the search's bound).
func (sd *side) npmPackages(ctx context.Context) ([]string, error) {
	var out []string
	for from := 0; from <= 10000; from += 250 {
		var page struct {
			Objects []struct {
				Package struct {
					Name string `json:"name"`
				} `json:"package"`
			} `json:"objects"`
		}
		q := "/-/v1/search?text=&size=250&from=" + strconv.Itoa(from)
		if err := sd.getJSON(ctx, "/npm/"+url.PathEscape(sd.repository)+q, "application/json", &page); err != nil {
			return nil, err
		}
		for _, o := range page.Objects {
			out = append(out, o.Package.Name)
		}
		if len(page.Objects) < 250 {
			break
		}
	}
	return out, nil
}

func (r *npmRep) sync(ctx context.Context, rc *runCtx) error {
	pkgs, err := r.src.npmPackages(ctx)
	if err != nil {
		return err
	}
	for _, name := range pkgs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if matchAny(rc.p.Filter.Names, name) {
			if err := r.pkg(ctx, rc, name, ""); err != nil {
				rc.item(name, Errored, 0, err)
			}
		}
	}
	if !rc.p.Deletes {
		return nil
	}
	dstPkgs, err := r.dst.npmPackages(ctx)
	if err != nil {
		return err
	}
	for _, name := range dstPkgs {
		if !matchAny(rc.p.Filter.Names, name) {
			continue
		}
		src, err := r.src.packument(ctx, name)
		if err != nil {
			rc.item(name, Errored, 0, err)
			continue
		}
		dst, err := r.dst.packument(ctx, name)
		if err != nil {
			rc.item(name, Errored, 0, err)
			continue
		}
		for v := range dst.Versions {
			if _, ok := src.Versions[v]; !ok && matchAny(rc.p.Filter.Versions, v) {
				r.unpublish(ctx, rc, name, v)
			}
		}
	}
	return nil
}

// pkg publishes the package's selected versions (or only the one named)
// the destination lacks.
func (r *npmRep) pkg(ctx context.Context, rc *runCtx, name, only string) error {
	src, err := r.src.packument(ctx, name)
	if err != nil {
		return err
	}
	dst, err := r.dst.packument(ctx, name)
	if err != nil {
		return err
	}
	for v, manifest := range src.Versions {
		if (only != "" && v != only) || !matchAny(rc.p.Filter.Versions, v) {
			continue
		}
		item := name + "@" + v
		if _, ok := dst.Versions[v]; ok {
			rc.item(item, Skipped, 0, nil)
			continue
		}
		tags := map[string]string{}
		for tag, tv := range src.DistTags {
			if tv == v {
				tags[tag] = v
			}
		}
		rc.copyMeasured(item, func() (bool, error) { return false, r.publish(ctx, name, v, manifest, tags) })
	}
	return nil
}

// publish sends one version: its manifest as the source has it, and its
// tarball attached.
func (r *npmRep) publish(ctx context.Context, name, version string, manifest json.RawMessage, tags map[string]string) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(manifest, &m); err != nil {
		return fmt.Errorf("version %s: %w", version, err)
	}
	var dist struct {
		Tarball string `json:"tarball"`
	}
	json.Unmarshal(m["dist"], &dist)
	if dist.Tarball == "" {
		return fmt.Errorf("version %s has no dist.tarball", version)
	}
	u, err := r.src.resolve(r.src.npmPath(name), dist.Tarball)
	if err != nil {
		return err
	}
	resp, err := r.src.request(ctx, http.MethodGet, u, nil, 0, nil)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxNPMTarball+1))
	resp.Body.Close()
	if err != nil {
		return err
	}
	if len(data) > maxNPMTarball {
		return fmt.Errorf("tarball of %s@%s is over %d bytes", name, version, maxNPMTarball)
	}
	for _, k := range []string{"_id", "_npmUser", "_rev"} {
		delete(m, k)
	}
	file := path.Base(name) + "-" + version + ".tgz"
	doc := map[string]any{
		"_id": name, "name": name, "dist-tags": tags,
		"versions": map[string]any{version: m},
		"_attachments": map[string]any{file: map[string]any{
			"content_type": "application/octet-stream", "data": base64.StdEncoding.EncodeToString(data), "length": len(data)}},
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	put, err := r.dst.request(ctx, http.MethodPut, r.dst.npmPath(name), bytes.NewReader(body), int64(len(body)),
		http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return err
	}
	put.Body.Close()
	return nil
}

// unpublish removes one version from the destination as `npm unpublish
// name@version` does: the packument without it, then its tarball.
func (r *npmRep) unpublish(ctx context.Context, rc *runCtx, name, version string) {
	item := name + "@" + version
	var full map[string]json.RawMessage
	err := r.dst.getJSON(ctx, r.dst.npmPath(name)+"?write=true", "application/json", &full)
	if statusOf(err) == http.StatusNotFound {
		rc.item(item, Skipped, 0, nil)
		return
	} else if err != nil {
		rc.item(item, Errored, 0, err)
		return
	}
	var versions map[string]json.RawMessage
	var rev string
	json.Unmarshal(full["versions"], &versions)
	json.Unmarshal(full["_rev"], &rev)
	if _, ok := versions[version]; !ok {
		rc.item(item, Skipped, 0, nil)
		return
	}
	if rev == "" {
		rev = "0"
	}
	err = r.removeVersion(ctx, name, version, rev, full, versions)
	rc.item(item, Deleted, 0, err)
}

func (r *npmRep) removeVersion(ctx context.Context, name, version, rev string, full, versions map[string]json.RawMessage) error {
	if len(versions) == 1 {
		resp, err := r.dst.request(ctx, http.MethodDelete, r.dst.npmPath(name)+"/-rev/"+url.PathEscape(rev), nil, 0, nil)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	delete(versions, version)
	full["versions"], _ = json.Marshal(versions)
	var tags map[string]string
	json.Unmarshal(full["dist-tags"], &tags)
	for t, v := range tags {
		if v == version {
			delete(tags, t)
		}
	}
	full["dist-tags"], _ = json.Marshal(tags)
	body, _ := json.Marshal(full)
	resp, err := r.dst.request(ctx, http.MethodPut, r.dst.npmPath(name)+"/-rev/"+url.PathEscape(rev), bytes.NewReader(body), int64(len(body)),
		http.Header{"Content-Type": {"application/json"}})
	if err == nil {
		resp.Body.Close()
	}
	return err
}

func (r *npmRep) apply(ctx context.Context, rc *runCtx, changes []Change) error {
	for _, c := range changes {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		name, version := splitNPM(c.Item)
		if name == "" || !matchAny(rc.p.Filter.Names, name) || (version != "" && !matchAny(rc.p.Filter.Versions, version)) {
			continue
		}
		switch {
		case c.Deleted && rc.p.Deletes:
			if version == "" {
				dst, err := r.dst.packument(ctx, name)
				if err != nil {
					rc.item(c.Item, Errored, 0, err)
					continue
				}
				for v := range dst.Versions {
					r.unpublish(ctx, rc, name, v)
				}
				continue
			}
			r.unpublish(ctx, rc, name, version)
		case !c.Deleted:
			if err := r.pkg(ctx, rc, name, version); err != nil {
				rc.item(c.Item, Errored, 0, err)
			}
		}
	}
	return nil
}

// splitNPM splits name@version (a scoped name starts with @).
func splitNPM(s string) (name, version string) {
	if i := strings.LastIndex(s, "@"); i > 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}
