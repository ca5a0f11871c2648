package goproxy

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// The checksum database through a proxy (https://go.dev/ref/mod#checksum-database):
// before it talks to a checksum database such as sum.golang.org, the go
// command asks its GOPROXY for <proxy>/sumdb/<name>/supported, and on 200
// sends its lookups and tile reads through the proxy. A proxy repository
// passes them to its upstream GOPROXY unchanged and uncached (the go
// command verifies the signed tree itself), so GOSUMDB verification keeps
// working on machines that reach nothing but arca. A group passes them to
// its first proxy member that answers; a hosted repository answers 404,
// and modules only it serves belong in GONOSUMDB.

// maxSumdbBody bounds a checksum database answer (a tile is at most 8 KiB
// of hashes or 256 records).
const maxSumdbBody = 4 << 20

// The patterns of a checksum database's name and path. Their lengths are
// checked apart (validSumdb): counted repetitions such as {1,900} compile
// into programs that took 3 ms of every start.
var (
	sumdbName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*(:[0-9]{1,5})?$`)
	sumdbPath = regexp.MustCompile(`^(supported|latest|lookup/[A-Za-z0-9._~!+/@-]+|tile/[0-9]{1,2}/[0-9]{1,2}/([A-Za-z0-9./]+))$`)
)

// validSumdb reports whether name and path are a checksum database's:
// a host name of at most 253 characters (and a port), and supported,
// latest, a lookup of at most 900 characters or a tile whose last part
// has at most 200.
func validSumdb(name, path string) bool {
	host, _, _ := strings.Cut(name, ":")
	if len(host) > 253 || !sumdbName.MatchString(name) {
		return false
	}
	m := sumdbPath.FindStringSubmatch(path)
	switch {
	case m == nil:
		return false
	case strings.HasPrefix(path, "lookup/"):
		return len(path)-len("lookup/") <= 900
	case strings.HasPrefix(path, "tile/"):
		return len(m[2]) <= 200
	}
	return true
}

// parseSumdb splits <name>/<path> below /sumdb/ and checks both.
func parseSumdb(s string) (name, path string, err error) {
	name, path, _ = strings.Cut(s, "/")
	if !validSumdb(name, path) {
		return "", "", errs.E(errs.NotFound, "not a checksum database path: %s", trunc(s))
	}
	for _, seg := range strings.Split(path, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", "", errs.E(errs.NotFound, "not a checksum database path: %s", trunc(s))
		}
	}
	return name, path, nil
}

// sumdb answers GET and HEAD below /go/<repo>/sumdb/.
func (h *Handler) sumdb(c *call, rest string) error {
	ctx := c.r.Context()
	rp, err := h.repository(ctx, c.repo, auth.Read)
	if err != nil {
		return err
	}
	name, path, err := parseSumdb(rest)
	if err != nil {
		return err
	}
	body, err := h.sumdbRead(ctx, rp, "sumdb/"+name+"/"+path, 0)
	if err != nil {
		return err
	}
	c.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if path == "supported" {
		c.w.WriteHeader(http.StatusOK)
		return nil
	}
	c.w.Header().Set("Cache-Control", "no-cache")
	c.w.WriteHeader(http.StatusOK)
	if c.r.Method != http.MethodHead {
		c.w.Write(body)
	}
	return nil
}

// sumdbRead asks rp's upstream (or its members') for a checksum
// database path.
func (h *Handler) sumdbRead(ctx context.Context, rp *repo.Repository, key string, depth int) ([]byte, error) {
	switch rp.Kind {
	case repo.Hosted:
		return nil, errs.E(errs.NotFound, "not found: %s does not pass a checksum database through (set GONOSUMDB for its modules)", rp.Name)
	case repo.Group:
		if depth >= maxGroupDepth {
			return nil, errs.E(errs.Invalid, "groups nest deeper than %d", maxGroupDepth)
		}
		var last error = errs.E(errs.NotFound, "not found: no member of %s passes a checksum database through", rp.Name)
		for _, m := range repo.Readable(h.repos.Members(ctx, rp, h.auth.CanRead)) {
			if m.Kind == repo.Hosted {
				continue
			}
			b, err := h.sumdbRead(ctx, m, key, depth+1)
			if err == nil {
				return b, nil
			}
			last = err
		}
		return nil, last
	}
	s, base, err := h.upstreamOf(rp)
	if err != nil {
		return nil, err
	}
	if down, left := h.upstream.Paused(rp.ID); down {
		return nil, errs.E(errs.Unavailable, "the upstream of %s is unavailable; retrying in %s", rp.Name, left.Round(1e9))
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	resp, err := h.upstreamGet(ctx, rp, s, base+key)
	if err != nil {
		return nil, err
	}
	if resp == nil {
		return nil, errs.E(errs.NotFound, "not found: %s (the upstream of %s has not got it)", key, rp.Name)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxSumdbBody+1))
	if err != nil {
		return nil, errs.Wrap(err, errs.Unavailable, "reading %s from the upstream", key)
	}
	if len(b) > maxSumdbBody {
		return nil, errs.E(errs.Unavailable, "the upstream's %s is larger than %d bytes", key, maxSumdbBody)
	}
	return b, nil
}
