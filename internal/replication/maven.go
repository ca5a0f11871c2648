package replication

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
)

// mavenRep replicates deploys to a Maven repository of arca as they
// happen: each deployed file is read back and PUT to the destination (as
// mvn deploy does, with its SHA-256 to verify), each deleted file or
// version deleted there. A Maven repository has no listing, so Maven
// policies run on events only: there is no full run to catch up with, and
// what was deployed before the policy existed is not copied.
type mavenRep struct {
	src, dst *side
}

// errMavenFullRun is the answer to a full run of a Maven policy.
var errMavenFullRun = errs.E(errs.Invalid, "a Maven repository has no listing to replicate in full: Maven policies replicate deploys on events only")

func (sd *side) mavenPath(p string) string {
	return "/maven/" + url.PathEscape(sd.repository) + "/" + escapePath(p)
}

func (r *mavenRep) sync(context.Context, *runCtx) error { return errMavenFullRun }

func (r *mavenRep) apply(ctx context.Context, rc *runCtx, changes []Change) error {
	for _, c := range changes {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !matchAny(rc.p.Filter.Names, c.Item) {
			continue
		}
		switch {
		case c.Deleted && rc.p.Deletes:
			r.delete(ctx, rc, c.Item)
		case !c.Deleted:
			r.copy(ctx, rc, c.Item)
		}
	}
	return nil
}

// checksum is a side's SHA-256 of a file ("" when it lacks the file).
func (sd *side) mavenChecksum(ctx context.Context, p string) (string, error) {
	resp, err := sd.request(ctx, http.MethodGet, sd.mavenPath(p+".sha256"), nil, 0, nil)
	if statusOf(err) == http.StatusNotFound {
		return "", nil
	} else if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b [64]byte
	n, _ := resp.Body.Read(b[:])
	return strings.TrimSpace(string(b[:n])), nil
}

func (r *mavenRep) copy(ctx context.Context, rc *runCtx, p string) {
	rc.copyMeasured(p, func() (bool, error) {
		sum, err := r.src.mavenChecksum(ctx, p)
		if err != nil {
			return false, err
		}
		if sum == "" {
			return true, nil // gone from the source since
		}
		if have, err := r.dst.mavenChecksum(ctx, p); err != nil {
			return false, err
		} else if have == sum {
			return true, nil
		}
		resp, err := r.src.request(ctx, http.MethodGet, r.src.mavenPath(p), nil, 0, nil)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		put, err := r.dst.request(ctx, http.MethodPut, r.dst.mavenPath(p), resp.Body, resp.ContentLength,
			http.Header{"X-Checksum-Sha256": {sum}})
		if err != nil {
			return false, err
		}
		put.Body.Close()
		return false, nil
	})
}

// delete removes a file, or (for group:artifact:version) a version.
func (r *mavenRep) delete(ctx context.Context, rc *runCtx, item string) {
	p := item
	if parts := strings.Split(item, ":"); len(parts) == 3 && !strings.Contains(item, "/") {
		p = strings.ReplaceAll(parts[0], ".", "/") + "/" + parts[1] + "/" + parts[2] + "/"
	}
	resp, err := r.dst.request(ctx, http.MethodDelete, r.dst.mavenPath(p), nil, 0, nil)
	if statusOf(err) == http.StatusNotFound {
		rc.item(item, Skipped, 0, nil)
		return
	}
	if err == nil {
		resp.Body.Close()
	}
	rc.item(item, Deleted, 0, err)
}
