package lineage

import (
	"context"
	"log/slog"
	"strconv"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// Bounds of one walk: every walk is reachable by any reader, so each is
// bounded in depth and in the nodes it visits.
const (
	MaxDepth     = 10
	MaxNodes     = 500
	DefaultDepth = 3
)

// Directions of a walk.
const (
	Up   = "up"   // what this was made from
	Down = "down" // what was made from this
	Both = "both" // both walks from the root (not every path through it)
)

// Deps are the Service's dependencies.
type Deps struct {
	DB    *meta.DB
	Repos *repo.Store
	Auth  *auth.Service
	Blobs *blob.Store
	// MLflow decides who reads MLflow's nodes (nil: nobody).
	MLflow MLflow
	Audit  *audit.Log
	Log    *slog.Logger
}

// Service records and walks the lineage graph.
type Service struct {
	db     *meta.DB
	repos  *repo.Store
	auth   *auth.Service
	blobs  *blob.Store
	mlflow MLflow
	audit  *audit.Log
	log    *slog.Logger
	store  store
}

// New returns a Service.
func New(d Deps) *Service {
	return &Service{db: d.DB, repos: d.Repos, auth: d.Auth, blobs: d.Blobs, mlflow: d.MLflow,
		audit: d.Audit, log: d.Log, store: store{d.DB}}
}

// Graph is what a walk found. A node the caller may not read is
// {"id":"hidden-N","hidden":true}: no kind, ref or name.
type Graph struct {
	Root      string `json:"root"`
	Direction string `json:"direction"`
	Depth     int    `json:"depth"`
	Nodes     []Node `json:"nodes"`
	Edges     []Edge `json:"edges"`
	// Truncated says the walk stopped at MaxNodes (or the depth asked
	// for was more than MaxDepth); Notes say which.
	Truncated bool     `json:"truncated"`
	Notes     []string `json:"notes,omitempty"`
}

// Node is one node of a Graph. Level is its distance from the root,
// negative upstream (for the layout; not in the JSON).
type Node struct {
	ID     string `json:"id"`
	Hidden bool   `json:"hidden,omitempty"`
	Kind   string `json:"kind,omitempty"`
	Ref    string `json:"ref,omitempty"`
	Label  string `json:"label,omitempty"`
	Level  int    `json:"-"`
}

// Edge goes from the upstream node's ID to the downstream one's.
type Edge struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Relation string `json:"relation"`
}

// Walk returns the graph around root (a ref) as p may see it, up to depth
// links away in direction (Up, Down or Both). A root p may not read is
// NotFound (Unauthenticated for anonymous callers), like one that does
// not exist. An OCI tag is resolved to the digest it points at.
func (s *Service) Walk(ctx context.Context, p auth.Principal, root string, depth int, direction string) (*Graph, error) {
	r, err := ParseRef(root)
	if err != nil {
		return nil, err
	}
	if direction == "" {
		direction = Both
	}
	if direction != Up && direction != Down && direction != Both {
		return nil, errs.E(errs.Invalid, "direction must be up, down or both")
	}
	g := &Graph{Direction: direction, Depth: depth}
	if depth < 0 {
		return nil, errs.E(errs.Invalid, "depth must be 0 to %d", MaxDepth)
	}
	if depth > MaxDepth {
		g.Depth, g.Truncated = MaxDepth, true
		g.Notes = append(g.Notes, "depth limited to "+strconv.Itoa(MaxDepth))
	}
	ok, err := s.allowed(ctx, p, r, false)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound(p, root)
	}
	if r, err = s.resolve(ctx, r); err != nil {
		return nil, err
	}
	g.Root = r.String()
	w := walker{s: s, p: p, g: g, ids: map[string]string{}, edges: map[edge]bool{}, repos: map[string]bool{}}
	w.visit(ctx, r.String(), 0)
	if direction != Down {
		if err := w.walk(ctx, g.Root, -1); err != nil {
			return nil, err
		}
	}
	if direction != Up {
		if err := w.walk(ctx, g.Root, 1); err != nil {
			return nil, err
		}
	}
	if w.full {
		g.Truncated = true
		g.Notes = append(g.Notes, "stopped at "+strconv.Itoa(MaxNodes)+" nodes")
	}
	return g, w.err
}

func notFound(p auth.Principal, ref string) error {
	if p.Anonymous() {
		return errs.E(errs.Unauthenticated, "authentication required")
	}
	return errs.E(errs.NotFound, "no artifact %s that you may read", clip(ref))
}

// walker is one walk's state.
type walker struct {
	s     *Service
	p     auth.Principal
	g     *Graph
	ids   map[string]string // ref → node ID
	edges map[edge]bool
	repos map[string]bool // readable images and raw files, by kind and repository
	full  bool
	err   error
}

// allowed is Service.allowed for the walk's caller, asking once per
// repository for images and raw files, whose rule is the repository's.
func (w *walker) allowed(ctx context.Context, r Ref) (bool, error) {
	if r.Kind != KindImage && r.Kind != KindRaw {
		return w.s.allowed(ctx, w.p, r, false)
	}
	key := r.Kind + ":" + r.Repo
	if ok, known := w.repos[key]; known {
		return ok, nil
	}
	ok, err := w.s.allowed(ctx, w.p, r, false)
	if err == nil {
		w.repos[key] = ok
	}
	return ok, err
}

// visit adds the node ref at level unless it is known, and returns its
// ID ("" when the graph is full).
func (w *walker) visit(ctx context.Context, ref string, level int) string {
	if id, ok := w.ids[ref]; ok {
		return id
	}
	if len(w.g.Nodes) >= MaxNodes {
		w.full = true
		return ""
	}
	n := Node{Level: level}
	r, err := ParseRef(ref)
	ok := false
	if err == nil {
		if ok, err = w.allowed(ctx, r); err != nil && w.err == nil {
			w.err = err
		}
	}
	if ok {
		n.ID, n.Kind, n.Ref, n.Label = ref, r.Kind, ref, Label(r)
	} else {
		n.ID, n.Hidden = "hidden-"+strconv.Itoa(len(w.g.Nodes)), true
	}
	w.ids[ref] = n.ID
	w.g.Nodes = append(w.g.Nodes, n)
	return n.ID
}

// walk follows links breadth first from root, upstream (step -1) or
// downstream (step 1), to the graph's depth. Hidden nodes are walked
// through: what lies beyond them shows when it may be read.
func (w *walker) walk(ctx context.Context, root string, step int) error {
	frontier := []string{root}
	seen := map[string]bool{root: true}
	for d := 1; d <= w.g.Depth && len(frontier) > 0 && !w.full; d++ {
		links, err := w.s.store.neighbours(ctx, frontier, step < 0, 4*MaxNodes)
		if err != nil {
			return err
		}
		var next []string
		for _, l := range links {
			other := l.to
			if step < 0 {
				other = l.from
			}
			id := w.visit(ctx, other, d*step)
			if id == "" {
				break
			}
			if e := (edge{w.ids[l.from], w.ids[l.to], l.relation}); !w.edges[e] {
				w.edges[e] = true
				w.g.Edges = append(w.g.Edges, Edge{From: e.from, To: e.to, Relation: e.relation})
			}
			if !seen[other] {
				seen[other] = true
				next = append(next, other)
			}
		}
		frontier = next
		if w.err != nil {
			return w.err
		}
	}
	return nil
}

// Label is a short name for a node, at most labelRunes long, for
// pictures and listings.
func Label(r Ref) string {
	switch r.Kind {
	case KindImage:
		at := ":" + r.Tag
		if r.Digest != "" {
			at = "@" + shortDigest(r.Digest)
		}
		return head(r.Repo+"/"+r.Name, labelRunes-len(at)) + at
	case KindModelVersion:
		v := " v" + strconv.FormatInt(r.Version, 10)
		return head(r.Name, labelRunes-len(v)) + v
	case KindRun:
		return "run " + head(r.Name, 12)
	case KindLoggedModel:
		return head(r.Name, labelRunes)
	case KindDataset:
		return "dataset " + head(r.Name, 16)
	case KindDVC:
		return "md5 " + head(r.Name, 12)
	case KindS3:
		return tail("s3://"+r.Repo+"/"+r.Name, labelRunes)
	}
	return tail(r.Repo+"/"+r.Name, labelRunes)
}

// labelRunes fits a label in a box of the drawing.
const labelRunes = 34

func shortDigest(d string) string {
	if i := len("sha256:"); len(d) > i+12 {
		return d[:i+12]
	}
	return d
}

// head keeps the first n runes of s, marking a cut with an ellipsis.
func head(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:max(n-1, 0)]) + "…"
}

// tail keeps the last n runes of s (where a file's name is).
func tail(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return "…" + string(r[len(r)-n+1:])
}
