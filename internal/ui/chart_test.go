package ui

import (
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
)

// svgDoc is the part of a chart's SVG the tests look at.
type svgDoc struct {
	XMLName xml.Name `xml:"svg"`
	Title   string   `xml:"title"`
	Desc    string   `xml:"desc"`
	Groups  []struct {
		Class   string    `xml:"class,attr"`
		Paths   []svgPath `xml:"path"`
		Circles []struct {
			Title string `xml:"title"`
		} `xml:"circle"`
		Rects []struct {
			Title string `xml:"title"`
		} `xml:"rect"`
		Texts []string `xml:"text"`
	} `xml:"g"`
}

type svgPath struct {
	D      string `xml:"d,attr"`
	Stroke string `xml:"stroke,attr"`
	Title  string `xml:"title"`
}

// parseSVG checks that s is well-formed XML (every token) and decodes it.
func parseSVG(t testing.TB, s string) svgDoc {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(s))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("chart SVG is not well-formed XML: %v\n%s", err, s)
		}
	}
	var d svgDoc
	if err := xml.Unmarshal([]byte(s), &d); err != nil {
		t.Fatalf("decoding chart SVG: %v", err)
	}
	return d
}

func (d svgDoc) group(class string) (paths []svgPath, circles, rects, texts int) {
	for _, g := range d.Groups {
		if g.Class == class {
			paths = append(paths, g.Paths...)
			circles += len(g.Circles)
			rects += len(g.Rects)
			texts += len(g.Texts)
		}
	}
	return
}

// pathPoints counts the vertices of a path written as M x y L x y ...
func pathPoints(d string) int {
	return strings.Count(d, "M") + strings.Count(d, "L")
}

func ramp(n int, f func(i int) float64) (x, y []float64) {
	x = make([]float64, n)
	y = make([]float64, n)
	for i := range n {
		x[i] = float64(i)
		y[i] = f(i)
	}
	return
}

func TestChartSeriesAndXML(t *testing.T) {
	x1, y1 := ramp(20, func(i int) float64 { return float64(i) / 20 })
	x2, y2 := ramp(500, func(i int) float64 { return math.Sin(float64(i) / 30) })
	c := LineChart{ID: "c<1>", Title: `acc & "loss" <b>`, XLabel: "step", YLabel: "value",
		Series: []ChartSeries{
			{Name: "run <one> & 'two'\x01", X: x1, Y: y1},
			{Name: "run two", X: x2, Y: y2},
			{Name: "empty"},
		}}
	d := parseSVG(t, string(c.SVG()))
	if d.Title != `acc & "loss" <b>` {
		t.Errorf("title = %q", d.Title)
	}
	paths, circles, rects, texts := d.group("chart-series")
	if len(paths) != 2 {
		t.Fatalf("got %d series paths, want 2 (the empty series draws nothing)", len(paths))
	}
	if paths[0].Title != "run <one> & 'two'" || paths[0].Stroke != ChartColor(0) || paths[1].Stroke != ChartColor(1) {
		t.Errorf("series 0 = %q %q, series 1 stroke %q", paths[0].Title, paths[0].Stroke, paths[1].Stroke)
	}
	if n := pathPoints(paths[0].D); n != 20 {
		t.Errorf("series 0 has %d vertices, want 20", n)
	}
	if n := pathPoints(paths[1].D); n != 500 {
		t.Errorf("series 1 has %d vertices, want 500 (no downsampling below 2 per pixel)", n)
	}
	// Markers only for the short series; hover bands cover the plot.
	_, circles, _, _ = d.group("chart-points")
	if circles != 20 {
		t.Errorf("%d markers, want 20", circles)
	}
	_, _, rects, _ = d.group("chart-hover")
	if rects == 0 || rects > chartBands {
		t.Errorf("%d hover bands, want 1..%d", rects, chartBands)
	}
	_, _, _, texts = d.group("chart-axes")
	if texts < 6 {
		t.Errorf("only %d axis texts (ticks and labels)", texts)
	}
}

func TestChartSkipsNonFinite(t *testing.T) {
	x := []float64{0, 1, 2, 3, 4, 5, math.NaN()}
	y := []float64{1, math.NaN(), math.Inf(1), 2, math.Inf(-1), 3, 4}
	c := LineChart{ID: "c", Title: "m", XLabel: "step", Series: []ChartSeries{{Name: "r", X: x, Y: y}}}
	s := string(c.SVG())
	d := parseSVG(t, s)
	paths, _, _, _ := d.group("chart-series")
	if len(paths) != 1 || pathPoints(paths[0].D) != 3 {
		t.Fatalf("want one path of the 3 finite points, got %+v", paths)
	}
	if strings.Contains(s, "NaN") || strings.Contains(s, "Inf") {
		t.Errorf("SVG mentions NaN or Inf:\n%s", s)
	}
	if !strings.Contains(d.Desc, "3 points") {
		t.Errorf("desc = %q", d.Desc)
	}
	// Nothing finite at all is still a valid, empty chart.
	c = LineChart{ID: "e", Title: "m", Series: []ChartSeries{{Name: "r", X: []float64{0}, Y: []float64{math.NaN()}}}}
	d = parseSVG(t, string(c.SVG()))
	if paths, _, _, _ := d.group("chart-series"); len(paths) != 0 {
		t.Errorf("paths drawn for no finite points: %+v", paths)
	}
}

func TestChartSinglePointAndConstant(t *testing.T) {
	for _, s := range []ChartSeries{
		{Name: "one", X: []float64{7}, Y: []float64{0.5}},
		{Name: "flat", X: []float64{0, 1, 2}, Y: []float64{0, 0, 0}},
		{Name: "huge", X: []float64{0, 1e9}, Y: []float64{1e12, -1e12}},
		{Name: "tiny", X: []float64{0.001, 0.002}, Y: []float64{1e-9, 2e-9}},
		{Name: "widest x", X: []float64{-1e308, 1e308}, Y: []float64{1, 2}},
		{Name: "widest y", X: []float64{0, 1}, Y: []float64{-1.7e308, 1.7e308}},
		{Name: "max flat", X: []float64{0, 1}, Y: []float64{1.7e308, 1.7e308}},
		{Name: "denormal", X: []float64{0, 1}, Y: []float64{5e-324, 1e-323}},
		{Name: "far steps", X: []float64{1e18, 1e18 + 256}, Y: []float64{1, 2}},
	} {
		c := LineChart{ID: "c", Title: s.Name, Series: []ChartSeries{s}}
		out := string(c.SVG())
		parseSVG(t, out)
		if strings.Contains(out, "NaN") || strings.Contains(out, "Inf") {
			t.Errorf("%s: SVG has NaN or Inf coordinates", s.Name)
		}
	}
}

func TestDownsampleCapsAndKeepsExtremes(t *testing.T) {
	const n = 100000
	x, y := ramp(n, func(i int) float64 { return math.Sin(float64(i) / 1000) })
	y[54321] = 50  // a spike
	y[77777] = -50 // and a dip
	c := LineChart{ID: "c", Title: "loss", Series: []ChartSeries{{Name: "r", X: x, Y: y}}}
	d := parseSVG(t, string(c.SVG()))
	paths, circles, _, _ := d.group("chart-series")
	if len(paths) != 1 {
		t.Fatalf("%d paths", len(paths))
	}
	pw := 640 - chartMarginLeft - chartMarginRight
	if got := pathPoints(paths[0].D); got > 2*pw || got < pw {
		t.Errorf("100,000 points drawn as %d vertices, want between %d and %d", got, pw, 2*pw)
	}
	if circles != 0 {
		t.Errorf("%d markers on a long series", circles)
	}

	ox, oy := downsample(x, y, func(v float64) float64 { return v / n }, 500)
	if len(ox) > 1000 {
		t.Errorf("downsample kept %d points, want at most 1000", len(ox))
	}
	var hasSpike, hasDip bool
	for i := range ox {
		hasSpike = hasSpike || (ox[i] == 54321 && oy[i] == 50)
		hasDip = hasDip || (ox[i] == 77777 && oy[i] == -50)
		if i > 0 && ox[i] < ox[i-1] {
			t.Fatalf("downsampled points out of order at %d", i)
		}
	}
	if !hasSpike || !hasDip {
		t.Errorf("downsampling lost the extremes: spike %v dip %v", hasSpike, hasDip)
	}
	if ox[0] != 0 {
		t.Errorf("first point %v, want 0", ox[0])
	}
}

func TestNiceStepAndLabels(t *testing.T) {
	for _, c := range []struct {
		span float64
		n    int
		want float64
	}{
		{10, 5, 2}, {1, 5, 0.2}, {100, 4, 20}, {7, 7, 1}, {0.03, 3, 0.01}, {1000, 2, 500},
	} {
		if got := niceStep(c.span, c.n); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("niceStep(%v, %d) = %v, want %v", c.span, c.n, got, c.want)
		}
	}
	a := newAxis(0.12, 0.97, 5, false)
	if a.lo != 0 || math.Abs(a.hi-1) > 1e-12 || a.label(a.ticks[1]) != "0.2" {
		t.Errorf("axis = %+v, label %q", a, a.label(a.ticks[1]))
	}
	a = newAxis(0, 3, 10, true)
	if a.step != 1 || len(a.ticks) != 4 || a.label(2) != "2" {
		t.Errorf("integer axis = %+v", a)
	}
}

func BenchmarkChart100k(b *testing.B) {
	x, y := ramp(100000, func(i int) float64 { return math.Exp(-float64(i)/20000) + 0.01*math.Sin(float64(i)) })
	c := LineChart{ID: "c", Title: "loss", XLabel: "step", Series: []ChartSeries{{Name: "run", X: x, Y: y}}}
	b.ReportAllocs()
	for b.Loop() {
		_ = c.SVG()
	}
}
