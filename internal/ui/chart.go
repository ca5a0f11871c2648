package ui

import (
	"bytes"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// LineChart is a line chart rendered server-side as inline SVG: axes with
// ticks and labels, one path per series, and tooltips (SVG <title>) on
// hover bands and, for short series, on each point. Points whose x or y is
// NaN or ±Inf are skipped. A series with more points than two per pixel
// column is downsampled to the minimum and maximum of each column, so a
// 100,000-point history costs about as much to draw as a 1,000-point one
// and its spikes stay visible.
type LineChart struct {
	// ID prefixes the element ids of the chart (for aria-labelledby); it
	// must be unique in the page.
	ID     string
	Title  string
	XLabel string
	YLabel string
	// Width and Height are the SVG's size in its own units (0: 640×260).
	// It scales to its container's width.
	Width, Height int
	Series        []ChartSeries
}

// ChartSeries is one line: points in order of X.
type ChartSeries struct {
	Name  string
	Color string // a CSS colour; "" picks one from ChartColor by position
	X, Y  []float64
}

// chartPalette has colours readable on light and dark backgrounds.
var chartPalette = [...]string{"#2f6fde", "#e8590c", "#2b8a3e", "#c2255c", "#7048e8",
	"#0b7285", "#a07000", "#5c940d", "#d6336c", "#495057"}

// ChartColor is the colour of the i-th series.
func ChartColor(i int) string { return chartPalette[i%len(chartPalette)] }

// chartDash distinguishes series that share a colour (past the palette).
func chartDash(i int) string {
	switch (i / len(chartPalette)) % 3 {
	case 1:
		return "6 3"
	case 2:
		return "2 2"
	}
	return ""
}

// Chart geometry: margins around the plot area, in SVG units.
const (
	chartMarginLeft   = 64
	chartMarginRight  = 16
	chartMarginTop    = 14
	chartMarginBottom = 44
	// chartMarkerMax is the longest series whose points get markers of
	// their own (each with a tooltip).
	chartMarkerMax = 60
	// chartBands is the number of hover bands across the plot.
	chartBands = 80
)

// chartPoints holds one series after skipping non-finite points.
type chartPoints struct {
	x, y []float64
}

func finitePoints(s ChartSeries) chartPoints {
	n := min(len(s.X), len(s.Y))
	p := chartPoints{x: make([]float64, 0, n), y: make([]float64, 0, n)}
	for i := 0; i < n; i++ {
		x, y := s.X[i], s.Y[i]
		if math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
			continue
		}
		p.x = append(p.x, x)
		p.y = append(p.y, y)
	}
	return p
}

// downsample keeps, of points sorted by x, the lowest and the highest of
// each of buckets equal-width x ranges (frac maps x to [0, 1]), in their
// original order: at most 2×buckets points that trace the same envelope.
// Series already that short are returned as they are.
func downsample(x, y []float64, frac func(float64) float64, buckets int) ([]float64, []float64) {
	if len(x) <= 2*buckets || buckets <= 0 {
		return x, y
	}
	ox := make([]float64, 0, 2*buckets)
	oy := make([]float64, 0, 2*buckets)
	emit := func(lo, hi int) {
		if lo < 0 {
			return
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		ox = append(ox, x[lo])
		oy = append(oy, y[lo])
		if hi != lo {
			ox = append(ox, x[hi])
			oy = append(oy, y[hi])
		}
	}
	cur, lo, hi := -1, -1, -1
	for i := range x {
		b := min(max(int(frac(x[i])*float64(buckets)), 0), buckets-1)
		if b != cur {
			emit(lo, hi)
			cur, lo, hi = b, i, i
			continue
		}
		if y[i] < y[lo] {
			lo = i
		}
		if y[i] > y[hi] {
			hi = i
		}
	}
	emit(lo, hi)
	return ox, oy
}

// niceStep is a round tick interval (1, 2 or 5 × 10^k) giving about n
// intervals over span.
func niceStep(span float64, n int) float64 {
	if span <= 0 || n <= 0 {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / mag; {
	case f < 1.5:
		return mag
	case f < 3.5:
		return 2 * mag
	case f < 7.5:
		return 5 * mag
	}
	return 10 * mag
}

// axis is one axis's domain and ticks.
type axis struct {
	lo, hi float64
	ticks  []float64
	step   float64
}

// newAxis extends [lo, hi] to round tick values. integer asks for whole
// ticks (steps of training). Ranges that round ticks cannot describe
// (spans beyond the largest float, or below the smallest) get ticks at
// their two ends only.
func newAxis(lo, hi float64, n int, integer bool) axis {
	if hi < lo {
		lo, hi = hi, lo
	}
	if hi == lo {
		pad := math.Abs(lo) * 0.1
		if pad == 0 {
			pad = 1
		}
		lo, hi = math.Max(lo-pad, -math.MaxFloat64), math.Min(hi+pad, math.MaxFloat64)
	}
	step := niceStep(hi-lo, n)
	if integer && step < 1 {
		step = 1
	}
	a := axis{lo: math.Floor(lo/step) * step, hi: math.Ceil(hi/step) * step, step: step}
	if !finite(step) || step <= 0 || !finite(a.lo) || !finite(a.hi) || !finite(a.hi-a.lo) || a.hi <= a.lo {
		return axis{lo: lo, hi: hi, ticks: []float64{lo, hi}}
	}
	for i := 0; i <= 50; i++ {
		v := a.lo + float64(i)*step
		if v > a.hi+step*1e-9 || (i > 0 && v == a.ticks[len(a.ticks)-1]) {
			break
		}
		a.ticks = append(a.ticks, v)
	}
	return a
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// at is the value at fraction f of the axis (frac's inverse).
func (a axis) at(f float64) float64 { return a.lo*(1-f) + a.hi*f }

// frac is where v lies on the axis, 0 at lo and 1 at hi.
func (a axis) frac(v float64) float64 {
	var f float64
	if span := a.hi - a.lo; finite(span) {
		f = (v - a.lo) / span
	} else {
		f = (v/2 - a.lo/2) / (a.hi/2 - a.lo/2)
	}
	if !finite(f) {
		return 0.5
	}
	return f
}

// label writes a tick value with as many decimals as the step needs.
func (a axis) label(v float64) string {
	if math.Abs(v) < a.step*1e-9 {
		v = 0
	}
	big := math.Max(math.Abs(a.lo), math.Abs(a.hi))
	if a.step == 0 || big >= 1e6 || (a.step < 1e-4 && big < 1e-3) {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	decimals := 0
	if a.step < 1 {
		decimals = int(math.Ceil(-math.Log10(a.step) - 1e-9))
	}
	return strconv.FormatFloat(v, 'f', decimals, 64)
}

// chartValue formats a value for a tooltip.
func chartValue(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// SVG renders the chart. It is well-formed XML, safe to embed in HTML:
// every text is escaped.
func (c *LineChart) SVG() template.HTML {
	var b bytes.Buffer
	c.render(&b)
	return template.HTML(b.String())
}

func (c *LineChart) render(b *bytes.Buffer) {
	w, h := c.Width, c.Height
	if w <= 0 || h <= 0 {
		w, h = 640, 260
	}
	pw := float64(w - chartMarginLeft - chartMarginRight)
	ph := float64(h - chartMarginTop - chartMarginBottom)

	series := make([]chartPoints, len(c.Series))
	total := 0
	xlo, xhi, ylo, yhi := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	integerX := true
	for i, s := range c.Series {
		p := finitePoints(s)
		series[i] = p
		total += len(p.x)
		for j := range p.x {
			xlo, xhi = math.Min(xlo, p.x[j]), math.Max(xhi, p.x[j])
			ylo, yhi = math.Min(ylo, p.y[j]), math.Max(yhi, p.y[j])
			integerX = integerX && p.x[j] == math.Trunc(p.x[j])
		}
	}
	if total == 0 {
		xlo, xhi, ylo, yhi = 0, 1, 0, 1
	}
	xa := newAxis(xlo, xhi, max(2, int(pw/90)), integerX)
	ya := newAxis(ylo, yhi, max(2, int(ph/45)), false)
	sx := func(v float64) float64 { return chartMarginLeft + xa.frac(v)*pw }
	sy := func(v float64) float64 { return chartMarginTop + ph - ya.frac(v)*ph }

	id := xmlEscape(c.ID)
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 `)
	b.WriteString(strconv.Itoa(w) + " " + strconv.Itoa(h) + `" role="img" aria-labelledby="` + id + `-t ` + id + `-d">`)
	b.WriteString(`<title id="` + id + `-t">` + xmlEscape(c.Title) + `</title>`)
	b.WriteString(`<desc id="` + id + `-d">`)
	b.WriteString(xmlEscape(c.describe(series, xlo, xhi, ylo, yhi, total)))
	b.WriteString(`</desc>`)

	// Grid and tick labels.
	b.WriteString(`<g class="chart-grid" stroke="currentColor" stroke-opacity="0.13" stroke-width="1">`)
	for _, t := range ya.ticks {
		y := sy(t)
		writeLine(b, chartMarginLeft, y, chartMarginLeft+pw, y)
	}
	for _, t := range xa.ticks {
		x := sx(t)
		writeLine(b, x, chartMarginTop, x, chartMarginTop+ph)
	}
	b.WriteString(`</g><g class="chart-axes" fill="currentColor" font-size="11" font-family="system-ui, sans-serif">`)
	for _, t := range ya.ticks {
		b.WriteString(`<text x="` + coord(chartMarginLeft-6) + `" y="` + coord(sy(t)+4) + `" text-anchor="end">` + xmlEscape(ya.label(t)) + `</text>`)
	}
	for _, t := range xa.ticks {
		b.WriteString(`<text x="` + coord(sx(t)) + `" y="` + coord(chartMarginTop+ph+16) + `" text-anchor="middle">` + xmlEscape(xa.label(t)) + `</text>`)
	}
	if c.XLabel != "" {
		b.WriteString(`<text x="` + coord(chartMarginLeft+pw/2) + `" y="` + coord(float64(h)-6) + `" text-anchor="middle" fill-opacity="0.75">` + xmlEscape(c.XLabel) + `</text>`)
	}
	if c.YLabel != "" {
		b.WriteString(`<text transform="translate(13 ` + coord(chartMarginTop+ph/2) + `) rotate(-90)" text-anchor="middle" fill-opacity="0.75">` + xmlEscape(c.YLabel) + `</text>`)
	}
	b.WriteString(`</g><g stroke="currentColor" stroke-opacity="0.55" stroke-width="1">`)
	writeLine(b, chartMarginLeft, chartMarginTop+ph, chartMarginLeft+pw, chartMarginTop+ph)
	writeLine(b, chartMarginLeft, chartMarginTop, chartMarginLeft, chartMarginTop+ph)
	b.WriteString(`</g>`)

	// Lines, then markers of short series.
	b.WriteString(`<g class="chart-series" fill="none" stroke-width="1.6" stroke-linejoin="round" stroke-linecap="round">`)
	for i, p := range series {
		if len(p.x) == 0 {
			continue
		}
		x, y := downsample(p.x, p.y, xa.frac, int(pw))
		b.WriteString(`<path stroke="` + xmlEscape(c.color(i)) + `"`)
		if d := chartDash(i); d != "" {
			b.WriteString(` stroke-dasharray="` + d + `"`)
		}
		b.WriteString(` d="`)
		buf := b.AvailableBuffer()
		for j := range x {
			if j == 0 {
				buf = append(buf, 'M')
			} else {
				buf = append(buf, 'L')
			}
			buf = strconv.AppendFloat(buf, math.Round(sx(x[j])*10)/10, 'f', -1, 64)
			buf = append(buf, ' ')
			buf = strconv.AppendFloat(buf, math.Round(sy(y[j])*10)/10, 'f', -1, 64)
		}
		b.Write(buf)
		b.WriteString(`"><title>` + xmlEscape(c.Series[i].Name) + `</title></path>`)
	}
	b.WriteString(`</g>`)
	for i, p := range series {
		if len(p.x) == 0 || len(p.x) > chartMarkerMax {
			continue
		}
		b.WriteString(`<g class="chart-points" fill="` + xmlEscape(c.color(i)) + `">`)
		for j := range p.x {
			b.WriteString(`<circle cx="` + coord(sx(p.x[j])) + `" cy="` + coord(sy(p.y[j])) + `" r="3"><title>`)
			b.WriteString(xmlEscape(c.pointLabel(i, p.x[j], p.y[j])))
			b.WriteString(`</title></circle>`)
		}
		b.WriteString(`</g>`)
	}
	if total > 0 {
		c.renderBands(b, series, xa, pw, ph)
	}
	b.WriteString(`</svg>`)
}

func (c *LineChart) color(i int) string {
	if c.Series[i].Color != "" {
		return c.Series[i].Color
	}
	return ChartColor(i)
}

func (c *LineChart) xName() string {
	if c.XLabel != "" {
		return c.XLabel
	}
	return "x"
}

func (c *LineChart) pointLabel(i int, x, y float64) string {
	s := c.xName() + " " + chartValue(x) + ": " + chartValue(y)
	if len(c.Series) > 1 {
		s = c.Series[i].Name + ", " + s
	}
	return s
}

// describe is the chart's text alternative.
func (c *LineChart) describe(series []chartPoints, xlo, xhi, ylo, yhi float64, total int) string {
	if total == 0 {
		return "No finite values to plot."
	}
	var s strings.Builder
	if len(c.Series) == 1 {
		s.WriteString(strconv.Itoa(total) + " points")
	} else {
		s.WriteString(strconv.Itoa(len(c.Series)) + " series, " + strconv.Itoa(total) + " points")
	}
	s.WriteString(", " + c.xName() + " from " + chartValue(xlo) + " to " + chartValue(xhi))
	s.WriteString(", values from " + chartValue(ylo) + " to " + chartValue(yhi))
	if len(c.Series) == 1 {
		s.WriteString(", last " + chartValue(series[0].y[len(series[0].y)-1]))
	}
	s.WriteString(".")
	return s.String()
}

// renderBands writes transparent vertical bands across the plot, each
// with a tooltip giving every series' values in its x range (the last
// one, and the range when there are several).
func (c *LineChart) renderBands(b *bytes.Buffer, series []chartPoints, xa axis, pw, ph float64) {
	n := chartBands
	type agg struct {
		count          int
		last, min, max float64
	}
	bands := make([][]agg, len(series))
	for i, p := range series {
		bands[i] = make([]agg, n)
		for j := range p.x {
			k := min(max(int(xa.frac(p.x[j])*float64(n)), 0), n-1)
			a := &bands[i][k]
			if a.count == 0 {
				a.min, a.max = p.y[j], p.y[j]
			}
			a.count++
			a.last = p.y[j]
			a.min, a.max = math.Min(a.min, p.y[j]), math.Max(a.max, p.y[j])
		}
	}
	bw := pw / float64(n)
	b.WriteString(`<g class="chart-hover" fill="currentColor" fill-opacity="0">`)
	var t strings.Builder
	for k := 0; k < n; k++ {
		t.Reset()
		for i := range series {
			a := bands[i][k]
			if a.count == 0 {
				continue
			}
			if t.Len() > 0 {
				t.WriteString("\n")
			}
			if len(series) > 1 {
				t.WriteString(c.Series[i].Name + ": ")
			}
			t.WriteString(chartValue(a.last))
			if a.count > 1 && a.min != a.max {
				t.WriteString(" (" + chartValue(a.min) + " … " + chartValue(a.max) + ", " + strconv.Itoa(a.count) + " points)")
			}
		}
		if t.Len() == 0 {
			continue
		}
		x0, x1 := xa.at(float64(k)/float64(n)), xa.at(float64(k+1)/float64(n))
		head := c.xName() + " " + chartValue(roundTo(x0, xa.step)) + "–" + chartValue(roundTo(x1, xa.step))
		b.WriteString(`<rect x="` + coord(chartMarginLeft+pw*float64(k)/float64(n)) + `" y="` + coord(chartMarginTop) + `" width="` + coord(bw) + `" height="` + coord(ph) + `"><title>`)
		b.WriteString(xmlEscape(head + "\n" + t.String()))
		b.WriteString(`</title></rect>`)
	}
	b.WriteString(`</g>`)
}

// roundTo rounds v to a hundredth of step, for range labels.
func roundTo(v, step float64) float64 {
	q := step / 100
	if q <= 0 {
		return v
	}
	return math.Round(v/q) * q
}

func writeLine(b *bytes.Buffer, x1, y1, x2, y2 float64) {
	b.WriteString(`<line x1="` + coord(x1) + `" y1="` + coord(y1) + `" x2="` + coord(x2) + `" y2="` + coord(y2) + `"/>`)
}

// coord writes an SVG coordinate with one decimal.
func coord(v float64) string {
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

// xmlEscape escapes text for XML content and attribute values, dropping
// the control characters XML cannot carry (names come from clients).
func xmlEscape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"':
			b.WriteString("&#34;")
		case r == '\'':
			b.WriteString("&#39;")
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r', r == 0xFFFE, r == 0xFFFF:
			// not allowed in XML 1.0
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
