package search

import (
	"fmt"
	"slices"
	"strings"
)

// keyKind is what a filter or order_by key refers to.
type keyKind int

const (
	attrKey keyKind = iota
	metricKey
	paramKey
	tagKey
	datasetKey
	metadataKey
)

func (k keyKind) String() string {
	switch k {
	case metricKey:
		return "metric"
	case paramKey:
		return "parameter"
	case tagKey:
		return "tag"
	case datasetKey:
		return "dataset"
	case metadataKey:
		return "metadata"
	}
	return "attribute"
}

// Operator sets, as MLflow allows them.
var (
	numericOps = []Op{OpEq, OpNe, OpLt, OpLe, OpGt, OpGe}
	// stringOps are the comparators of string attributes; IN and NOT IN
	// only where listOps says so.
	stringOps = []Op{OpEq, OpNe, OpLike, OpILike}
	listOps   = []Op{OpEq, OpNe, OpLike, OpILike, OpIn, OpNotIn}
	// nullableOps are those of keys a row may lack (params and tags).
	nullableOps = []Op{OpEq, OpNe, OpLike, OpILike, OpIsNull, OpIsNotNull}
)

// cond is a comparison checked against the rules of the entity searched.
type cond struct {
	Comparison
	kind keyKind
	key  string // the attribute's canonical name, or the user's key
}

// checker validates comparisons and reports errors naming the clause.
type checker struct {
	filter string
}

// errf is an INVALID_PARAMETER_VALUE error about comparison c.
func (ck checker) errf(c Comparison, format string, args ...any) error {
	clause := ck.filter
	if c.End > c.Pos && c.End <= len(ck.filter) {
		clause = ck.filter[c.Pos:c.End]
	}
	return invalidf("%s (in %s of the filter)", fmt.Sprintf(format, args...), quote(clause))
}

// rule says which operators and values a key accepts.
type rule struct {
	what    string // e.g. "metric 'acc'", for errors
	ops     []Op
	numeric bool // values must be numbers; otherwise quoted strings
}

// apply checks c's operator and value type against r.
func (ck checker) apply(c Comparison, r rule) error {
	if !slices.Contains(r.ops, c.Op) {
		return ck.errf(c, "Invalid comparator '%s' for %s, expected one of %s", c.Op, r.what, opNames(r.ops))
	}
	switch c.Value.Kind {
	case NoValue, ListValue:
		return nil // the parser pairs IS [NOT] NULL and [NOT] IN with these
	case NumberValue:
		if !r.numeric {
			return ck.errf(c, "Expected a quoted string value for %s (e.g. 'my-value'), got %s", r.what, c.Value.Text)
		}
	case StringValue:
		if r.numeric {
			return ck.errf(c, "Expected a numeric value for %s, got %s", r.what, c.Value)
		}
	}
	return nil
}

func opNames(ops []Op) string {
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

// parseConds parses filter and resolves each comparison with resolve.
func parseConds(filter string, resolve func(checker, Comparison) (cond, error)) ([]cond, error) {
	cmps, err := ParseFilter(filter)
	if err != nil {
		return nil, err
	}
	ck := checker{filter: filter}
	out := make([]cond, 0, len(cmps))
	for _, c := range cmps {
		rc, err := resolve(ck, c)
		if err != nil {
			return nil, err
		}
		out = append(out, rc)
	}
	return out, nil
}

// orderSeen rejects an order_by that names the same field twice, as
// MLflow does.
type orderSeen map[string]bool

func (s orderSeen) add(field string, all []string) error {
	if s[field] {
		return invalidf("`order_by` contains duplicate fields: [%s]", strings.Join(all, ", "))
	}
	s[field] = true
	return nil
}

// viewStages is the lifecycle_stage condition of a view type, "" for all.
func viewStages(col, viewType string) (string, error) {
	switch strings.ToUpper(viewType) {
	case "", ActiveOnly:
		return col + " = 'active'", nil
	case DeletedOnly:
		return col + " = 'deleted'", nil
	case All:
		return "", nil
	}
	return "", invalidf("Invalid view type %s: expected ACTIVE_ONLY, DELETED_ONLY or ALL", quote(viewType))
}

// inExperiments is the condition that col is one of ids; no id matches
// nothing.
func (b *sqlb) inExperiments(col string, ids []int64) string {
	switch len(ids) {
	case 0:
		return never
	case 1:
		return col + " = " + b.arg(ids[0])
	}
	return col + " IN (" + b.int64List(ids) + ")"
}

// where joins conditions with AND.
func where(conds []string) string {
	var nonEmpty []string
	for _, c := range conds {
		if c != "" {
			nonEmpty = append(nonEmpty, c)
		}
	}
	if len(nonEmpty) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(nonEmpty, " AND ")
}

func dir(desc bool) string {
	if desc {
		return " DESC"
	}
	return " ASC"
}
