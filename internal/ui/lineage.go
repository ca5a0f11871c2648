package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/lineage"
)

// lineageData is the lineage page: the graph around one artifact, placed
// for drawing (lineage.Place), and its readable nodes listed.
type lineageData struct {
	Artifact  string
	Depth     int
	Direction string
	Graph     *lineage.Graph
	Layout    lineage.Layout
	Nodes     []lineageNode
	Depths    []int
}

type lineageNode struct {
	lineage.Node
	Page string // the node's own page in the UI, "" when it has none
}

// lineagePage: GET /ui/lineage?artifact=<ref>&depth=N&direction=up|down|both.
// Without an artifact it shows the form only.
func (h *Handler) lineagePage(w http.ResponseWriter, r *http.Request) error {
	if h.Lineage == nil {
		return h.notFound(w, r)
	}
	q := r.URL.Query()
	d := lineageData{Artifact: strings.TrimSpace(q.Get("artifact")), Depth: lineage.DefaultDepth, Direction: q.Get("direction")}
	for i := 1; i <= lineage.MaxDepth; i++ {
		d.Depths = append(d.Depths, i)
	}
	if d.Direction == "" {
		d.Direction = lineage.Both
	}
	if s := q.Get("depth"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return errs.E(errs.Invalid, "The depth must be a number from 0 to %d.", lineage.MaxDepth)
		}
		d.Depth = n
	}
	if d.Artifact != "" {
		ctx := r.Context()
		g, err := h.Lineage.Walk(ctx, auth.From(ctx), d.Artifact, d.Depth, d.Direction)
		if err != nil {
			return err
		}
		d.Graph, d.Layout = g, lineage.Place(g)
		for _, n := range g.Nodes {
			if !n.Hidden {
				d.Nodes = append(d.Nodes, lineageNode{Node: n, Page: nodePage(n.Ref)})
			}
		}
	}
	return h.page(w, r, "lineage", "Lineage", d)
}

// nodePage is the UI page of the artifact ref names, if it has one.
func nodePage(ref string) string {
	r, err := lineage.ParseRef(ref)
	if err != nil {
		return ""
	}
	esc := url.PathEscape
	switch r.Kind {
	case lineage.KindImage:
		return "/ui/repositories/" + esc(r.Repo) + "/manifests/" + esc(r.Digest) + "/" + r.Name
	case lineage.KindRun:
		return "/ui/runs/" + esc(r.Name)
	case lineage.KindModelVersion:
		return "/ui/models/" + esc(r.Name) + "#v" + strconv.FormatInt(r.Version, 10)
	case lineage.KindS3, lineage.KindRaw:
		return "/ui/repositories/" + esc(r.Repo) + "/download?path=" + url.QueryEscape(r.Name)
	}
	return ""
}

// lineageHref is the lineage page of an artifact (a template function).
func lineageHref(ref string) string { return "/ui/lineage?artifact=" + url.QueryEscape(ref) }
