package helm

import (
	"encoding/json"
	"slices"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/arcaproject/arca/internal/errs"
)

// maxIndex bounds an upstream's index.yaml.
const maxIndex = 64 << 20

// Entry is one chart version of an index.yaml: Chart.yaml's fields plus
// urls, digest and created. It is kept as a map so that no field is lost.
type Entry map[string]any

func (e Entry) str(k string) string { s, _ := e[k].(string); return s }

// Name and Version are the entry's chart name and version.
func (e Entry) Name() string    { return e.str("name") }
func (e Entry) Version() string { return e.str("version") }

// URLs are where the entry's archive is.
func (e Entry) URLs() []string {
	l, _ := e["urls"].([]any)
	var out []string
	for _, u := range l {
		if s, ok := u.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// Index is a chart repository's index.yaml.
type Index struct {
	APIVersion string             `json:"apiVersion"`
	Entries    map[string][]Entry `json:"entries"`
	Generated  string             `json:"generated,omitempty"`
}

func newIndex() *Index { return &Index{APIVersion: "v1", Entries: map[string][]Entry{}} }

// add appends an entry unless the index has its name and version already.
func (ix *Index) add(e Entry) {
	n, v := e.Name(), e.Version()
	for _, x := range ix.Entries[n] {
		if x.Version() == v {
			return
		}
	}
	ix.Entries[n] = append(ix.Entries[n], e)
}

// Render returns the index as YAML, each chart's versions newest first.
func (ix *Index) Render() []byte {
	for _, es := range ix.Entries {
		slices.SortStableFunc(es, func(a, b Entry) int { return CompareVersions(b.Version(), a.Version()) })
	}
	ix.Generated = time.Now().UTC().Format(time.RFC3339Nano)
	b, err := yaml.Marshal(ix)
	if err != nil { // maps of JSON values always marshal
		panic(err)
	}
	return b
}

// ParseIndex parses an index.yaml. Entries without a valid name and
// version are dropped.
func ParseIndex(b []byte) (*Index, error) {
	if len(b) > maxIndex {
		return nil, errs.E(errs.Invalid, "index.yaml is larger than %d bytes", maxIndex)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, errs.E(errs.Invalid, "index.yaml: %v", err)
	}
	var ix Index
	if err := json.Unmarshal(j, &ix); err != nil {
		return nil, errs.E(errs.Invalid, "index.yaml: %v", err)
	}
	out := newIndex()
	for name, es := range ix.Entries {
		for _, e := range es {
			if e == nil || e.Name() != name || CheckName(name) != nil || CheckVersion(e.Version()) != nil {
				continue
			}
			out.add(e)
		}
	}
	return out, nil
}
