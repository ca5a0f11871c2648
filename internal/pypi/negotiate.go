package pypi

import (
	"strconv"
	"strings"
)

// negotiate picks the simple API's response type from an Accept header
// (PEP 691): the JSON form, the versioned HTML form or plain text/html. A
// missing header, or one that accepts anything equally (*/*), gets
// text/html, which every client understands. It returns "" when nothing
// acceptable is offered.
func negotiate(accept string) string {
	if strings.TrimSpace(accept) == "" {
		return typeHTML
	}
	type choice struct {
		typ      string
		q        float64
		explicit bool // named, not reached through a wildcard
	}
	// Preference among equals: named types JSON first (clients that name
	// it want it); wildcards HTML first.
	offers := []string{typeJSON, typeHTMLv1, typeHTML}
	best := choice{}
	for _, offer := range offers {
		q, explicit := acceptQ(accept, offer)
		c := choice{offer, q, explicit}
		switch {
		case c.q <= 0:
		case best.typ == "", c.q > best.q:
			best = c
		case c.q == best.q && c.explicit && !best.explicit:
			best = c
		case c.q == best.q && !c.explicit && !best.explicit && c.typ == typeHTML:
			best = c
		}
	}
	return best.typ
}

// acceptQ returns the quality the Accept header gives typ, from its most
// specific matching range, and whether that range names typ itself.
func acceptQ(accept, typ string) (float64, bool) {
	bestSpec, q := -1, 0.0
	for _, item := range strings.Split(accept, ",") {
		mediaRange, params, _ := strings.Cut(item, ";")
		mediaRange = strings.ToLower(strings.TrimSpace(mediaRange))
		switch mediaRange {
		case typeJSONLatest:
			mediaRange = typeJSON
		case typeHTMLLatest:
			mediaRange = typeHTMLv1
		}
		spec := -1
		switch {
		case mediaRange == typ:
			spec = 2
		case mediaRange == "*/*":
			spec = 0
		case strings.HasSuffix(mediaRange, "/*") && strings.HasPrefix(typ, strings.TrimSuffix(mediaRange, "*")):
			spec = 1
		}
		if spec <= bestSpec {
			continue
		}
		bestSpec, q = spec, 1
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0 || f > 1 {
					f = 0
				}
				q = f
			}
		}
	}
	return q, bestSpec == 2
}
