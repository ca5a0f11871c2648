package lineage

import (
	"cmp"
	"fmt"
	"slices"
)

// A layered drawing of a Graph, computed here so that the UI draws it as
// SVG with no script: one column per level (upstream to the left, the
// root in its own column, downstream to the right), nodes ordered in
// their column by the mean row of their neighbours in the column before
// (two sweeps, left to right then right to left, which untangles the
// usual fan-in and fan-out), edges as curves from a box's right side to
// the next box's left side.

// Sizes of the drawing, in SVG user units.
const (
	boxW   = 220
	boxH   = 44
	colGap = 90
	rowGap = 22
	margin = 16
)

// Layout is a Graph placed on a plane.
type Layout struct {
	Width, Height int
	Boxes         []Box
	Lines         []Line
}

// Box is one node's rectangle; Node is the node it draws.
type Box struct {
	X, Y, W, H int
	Node       Node
	Root       bool
}

// Line is one edge: Path is an SVG path's d attribute; (LX, LY) where
// its relation is written.
type Line struct {
	Path     string
	Relation string
	LX, LY   int
}

// Place lays g out.
func Place(g *Graph) Layout {
	if len(g.Nodes) == 0 {
		return Layout{}
	}
	levels := map[int][]int{} // level → node indexes
	index := map[string]int{}
	for i, n := range g.Nodes {
		levels[n.Level] = append(levels[n.Level], i)
		index[n.ID] = i
	}
	keys := make([]int, 0, len(levels))
	for l := range levels {
		keys = append(keys, l)
	}
	slices.Sort(keys)
	row := make([]float64, len(g.Nodes))
	for _, l := range keys {
		for r, i := range levels[l] {
			row[i] = float64(r)
		}
	}
	neighbours := make([][]int, len(g.Nodes))
	for _, e := range g.Edges {
		f, t := index[e.From], index[e.To]
		neighbours[f] = append(neighbours[f], t)
		neighbours[t] = append(neighbours[t], f)
	}
	sweep := func(order []int, before func(int) bool) {
		for _, l := range order {
			col := levels[l]
			key := make(map[int]float64, len(col))
			for _, i := range col {
				sum, n := 0.0, 0
				for _, j := range neighbours[i] {
					if before(g.Nodes[j].Level - l) {
						sum += row[j]
						n++
					}
				}
				key[i] = row[i]
				if n > 0 {
					key[i] = sum / float64(n)
				}
			}
			slices.SortStableFunc(col, func(a, b int) int { return cmp.Compare(key[a], key[b]) })
			for r, i := range col {
				row[i] = float64(r)
			}
		}
	}
	rev := slices.Clone(keys)
	slices.Reverse(rev)
	sweep(keys, func(d int) bool { return d < 0 })
	sweep(rev, func(d int) bool { return d > 0 })

	var lay Layout
	maxRows := 0
	for _, l := range keys {
		maxRows = max(maxRows, len(levels[l]))
	}
	height := maxRows*(boxH+rowGap) - rowGap
	pos := make([][2]int, len(g.Nodes))
	for c, l := range keys {
		col := levels[l]
		top := margin + (height-(len(col)*(boxH+rowGap)-rowGap))/2
		for r, i := range col {
			x, y := margin+c*(boxW+colGap), top+r*(boxH+rowGap)
			pos[i] = [2]int{x, y}
			lay.Boxes = append(lay.Boxes, Box{X: x, Y: y, W: boxW, H: boxH, Node: g.Nodes[i], Root: i == 0})
		}
	}
	for _, e := range g.Edges {
		f, t := pos[index[e.From]], pos[index[e.To]]
		x1, y1 := f[0]+boxW, f[1]+boxH/2
		x2, y2 := t[0], t[1]+boxH/2
		var d string
		if x2 > x1 {
			mid := (x1 + x2) / 2
			d = fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, mid, y1, mid, y2, x2, y2)
		} else { // a link back (a cycle): around, below the boxes
			low := max(f[1], t[1]) + boxH + rowGap/2
			d = fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, x1+colGap/2, low, x2-colGap/2, low, x2, y2)
		}
		lay.Lines = append(lay.Lines, Line{Path: d, Relation: e.Relation, LX: (x1 + x2) / 2, LY: (y1+y2)/2 - 4})
	}
	lay.Width = 2*margin + len(keys)*(boxW+colGap) - colGap
	lay.Height = 2*margin + height + boxH // room for links back
	return lay
}
