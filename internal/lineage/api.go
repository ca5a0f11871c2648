package lineage

import (
	"context"
	"net/http"
	"strconv"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
)

// Routes mounts the lineage API on /api/v1, readable top to bottom.
func (s *Service) Routes(mux *http.ServeMux) {
	api := &httpx.Surface{Name: "api", WriteError: httpx.WriteJSONError, Auth: s.auth, Log: s.log}
	mux.Handle("GET /api/v1/lineage", api.Handle(s.getGraph))          // ?artifact=<ref>&depth=N&direction=up|down|both
	mux.Handle("POST /api/v1/lineage/links", api.Handle(s.createLink)) // {"from", "to", "relation"}: writer on both ends
}

// getGraph answers the graph around ?artifact= as the caller may see it.
func (s *Service) getGraph(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	ref := q.Get("artifact")
	if ref == "" {
		return errs.E(errs.Invalid, "artifact is required: a lineage ref such as oci:<repo>/<image>:<tag> or model:<name>/<version>")
	}
	depth := DefaultDepth
	if d := q.Get("depth"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return errs.E(errs.Invalid, "depth must be a number from 0 to %d", MaxDepth)
		}
		depth = n
	}
	g, err := s.Walk(r.Context(), auth.From(r.Context()), ref, depth, q.Get("direction"))
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, g)
}

// linkIn is POST /api/v1/lineage/links's body.
type linkIn struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Relation string `json:"relation"`
}

// createLink records a link a user asserts: 201 when new, 200 when it
// was already recorded.
func (s *Service) createLink(w http.ResponseWriter, r *http.Request) error {
	var in linkIn
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	ctx := r.Context()
	l, created, err := s.AddLink(ctx, auth.From(ctx), in.From, in.To, in.Relation)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		s.audit.Record(ctx, audit.Event{Action: "lineage.link.create", Subject: l.From.String() + " -> " + l.To.String(),
			RemoteAddr: r.RemoteAddr, Detail: map[string]any{"relation": l.Relation}})
	}
	return httpx.WriteJSON(w, status, map[string]any{"from": l.From.String(), "to": l.To.String(), "relation": l.Relation, "created": created})
}

// AddLink records that to was made from from (relation: RelDerived when
// ""), for p, who must be allowed to write to both ends. An end p may not
// read is NotFound, as one that does not exist; one p reads but may not
// write is Denied.
func (s *Service) AddLink(ctx context.Context, p auth.Principal, from, to, relation string) (Link, bool, error) {
	if p.Anonymous() {
		return Link{}, false, errs.E(errs.Unauthenticated, "authentication required")
	}
	if relation == "" {
		relation = RelDerived
	}
	if !validRelation(relation) {
		return Link{}, false, errs.E(errs.Invalid, "relation must be 1 to 32 lowercase letters, digits and _")
	}
	l := Link{Relation: relation, Origin: OriginAPI, CreatedBy: p.String()}
	for _, end := range []struct {
		text string
		ref  *Ref
	}{{from, &l.From}, {to, &l.To}} {
		r, err := ParseRef(end.text)
		if err != nil {
			return Link{}, false, err
		}
		if err := s.mayWrite(ctx, p, r); err != nil {
			return Link{}, false, err
		}
		if *end.ref, err = s.resolve(ctx, r); err != nil {
			return Link{}, false, err
		}
	}
	if l.From == l.To {
		return Link{}, false, errs.E(errs.Invalid, "a link joins two different artifacts")
	}
	n, err := s.store.add(ctx, []Link{l})
	return l, n > 0, err
}

// mayWrite checks p's write permission on r without telling a node p may
// not read from one that does not exist.
func (s *Service) mayWrite(ctx context.Context, p auth.Principal, r Ref) error {
	ok, err := s.allowed(ctx, p, r, true)
	if err != nil || ok {
		return err
	}
	if read, err := s.allowed(ctx, p, r, false); err != nil {
		return err
	} else if !read {
		return notFound(p, r.String())
	}
	return errs.E(errs.Denied, "%s may not write to %s", p.Name, clip(r.String()))
}

func validRelation(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}
