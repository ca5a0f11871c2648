package lineage

import (
	"fmt"
	"strings"
	"testing"
)

// TestPlace: columns by level (upstream left), no box overlapping
// another, every box inside the drawing, edges from a box's right side,
// and the root marked.
func TestPlace(t *testing.T) {
	g := &Graph{Nodes: []Node{{ID: "root", Level: 0}}}
	add := func(id string, level int, from, to string) {
		g.Nodes = append(g.Nodes, Node{ID: id, Level: level})
		g.Edges = append(g.Edges, Edge{From: from, To: to, Relation: "r"})
	}
	add("m", -1, "m", "root")
	add("d1", -2, "d1", "m")
	add("d2", -2, "d2", "m")
	add("x", -1, "x", "root")
	add("img", 1, "root", "img")
	g.Edges = append(g.Edges, Edge{From: "img", To: "d1", Relation: "back"}) // a cycle
	lay := Place(g)
	if len(lay.Boxes) != len(g.Nodes) || len(lay.Lines) != len(g.Edges) {
		t.Fatalf("%d boxes and %d lines for %d nodes and %d edges", len(lay.Boxes), len(lay.Lines), len(g.Nodes), len(g.Edges))
	}
	at := map[string]Box{}
	for i, b := range lay.Boxes {
		at[b.Node.ID] = b
		if b.X < 0 || b.Y < 0 || b.X+b.W > lay.Width || b.Y+b.H > lay.Height {
			t.Errorf("box %s at (%d,%d) outside %dx%d", b.Node.ID, b.X, b.Y, lay.Width, lay.Height)
		}
		for _, o := range lay.Boxes[i+1:] {
			if b.X < o.X+o.W && o.X < b.X+b.W && b.Y < o.Y+o.H && o.Y < b.Y+b.H {
				t.Errorf("boxes %s and %s overlap", b.Node.ID, o.Node.ID)
			}
		}
	}
	if !(at["d1"].X < at["m"].X && at["m"].X < at["root"].X && at["root"].X < at["img"].X) || !at["root"].Root || at["m"].Root {
		t.Errorf("columns out of order or root not marked: %+v", at)
	}
	for i, l := range lay.Lines {
		from := at[g.Edges[i].From]
		if want := fmt.Sprintf("M%d %d ", from.X+from.W, from.Y+from.H/2); !strings.HasPrefix(l.Path, want) {
			t.Errorf("edge %v path %q, want it to start at %q", g.Edges[i], l.Path, want)
		}
	}
	if lay := Place(&Graph{}); lay.Width != 0 || len(lay.Boxes) != 0 {
		t.Errorf("an empty graph = %+v", lay)
	}
}
