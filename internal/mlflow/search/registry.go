package search

import (
	"strconv"
	"strings"
)

// PromptTag marks registered models (and their versions) that are MLflow
// prompts. Registry searches leave prompts out unless the filter asks
// for them with tags.`mlflow.prompt.is_prompt` = 'true'.
const PromptTag = "mlflow.prompt.is_prompt"

// registryKind maps an identifier prefix of a registry search: MLflow
// accepts only attribute, tag and tags there.
func registryKind(entity string) (keyKind, bool) {
	switch entity {
	case "", "attribute":
		return attrKey, true
	case "tag", "tags":
		return tagKey, true
	}
	return 0, false
}

// queryingPrompts reports whether a registry filter asks for prompts:
// its first comparison on the prompt tag is = 'true' or != 'false'
// (case-insensitive values). Otherwise prompts are excluded and the
// comparisons on that tag are dropped, as MLflow does.
func queryingPrompts(conds []cond) bool {
	for _, c := range conds {
		if c.kind != tagKey || c.key != PromptTag {
			continue
		}
		v := strings.ToLower(c.Value.Text)
		return (c.Op == OpEq && v == "true") || (c.Op == OpNe && v == "false")
	}
	return false
}

func resolveRegisteredModel(ck checker, c Comparison) (cond, error) {
	kind, ok := registryKind(c.Entity)
	if !ok {
		return cond{}, ck.errf(c, "Invalid entity type '%s'. Valid entity types are attribute, tag and tags", c.Entity)
	}
	rc := cond{Comparison: c, kind: kind, key: c.Key}
	if kind == tagKey {
		return rc, ck.apply(c, rule{what: "tag '" + c.Key + "'", ops: stringOps})
	}
	if c.Key != "name" {
		return rc, ck.errf(c, "Invalid attribute key '%s' specified. Valid keys are name", c.Key)
	}
	return rc, ck.apply(c, rule{what: "attribute 'name'", ops: listOps})
}

// RegisteredModels compiles a registered models search to a query that
// selects mlflow_registered_models.id of one page, in order: the
// order_by keys (name, last_updated_timestamp or its alias timestamp,
// and creation_timestamp), then name.
func RegisteredModels(req RegisteredModelsRequest) (Query, error) {
	conds, err := parseConds(req.Filter, resolveRegisteredModel)
	if err != nil {
		return Query{}, err
	}
	var orders []string
	seen := orderSeen{}
	for _, ob := range req.OrderBy {
		t, err := ParseOrderBy(ob)
		if err != nil {
			return Query{}, err
		}
		var col string
		switch {
		case t.Entity != "":
		case t.Key == "name":
			col = "m.name"
		case t.Key == "timestamp", t.Key == "last_updated_timestamp":
			col = "m.last_updated_timestamp"
		case t.Key == "creation_timestamp":
			col = "m.creation_timestamp"
		}
		if col == "" {
			return Query{}, invalidf("Invalid order by key in %s. Valid keys are name, timestamp, last_updated_timestamp and creation_timestamp", quote(ob))
		}
		if err := seen.add(col, req.OrderBy); err != nil {
			return Query{}, err
		}
		orders = append(orders, col+dir(t.Desc))
	}
	if !seen["m.name"] {
		orders = append(orders, "m.name ASC")
	}

	var b sqlb
	prompts := queryingPrompts(conds)
	var ands []string
	if !prompts {
		ands = append(ands, "NOT EXISTS (SELECT 1 FROM mlflow_registered_model_tags pt WHERE pt.model_id = m.id AND pt.key = "+b.arg(PromptTag)+" AND pt.value = 'true')")
	}
	for _, c := range conds {
		var s string
		var err error
		switch {
		case c.kind == tagKey && c.key == PromptTag && !prompts:
			continue
		case c.kind == tagKey:
			s, err = keyValueCond(&b, "mlflow_registered_model_tags", "t", "t.model_id = m.id", c)
		default:
			s, err = b.str("m.name", c.Op, c.Value)
		}
		if err != nil {
			return Query{}, err
		}
		ands = append(ands, s)
	}
	sql := "SELECT m.id FROM mlflow_registered_models m" + where(ands) + " ORDER BY " + strings.Join(orders, ", ")
	return Query{SQL: b.page(sql, req.Offset, req.Limit), Args: b.args}, nil
}

// versionAttr is a model version attribute of filters and order_by.
type versionAttr struct {
	col     string
	numeric bool
	list    bool
	unset   bool // '' means not set (NULL in MLflow)
}

func lookupVersionAttr(key string, forOrder bool) (versionAttr, bool) {
	switch key {
	case "name":
		return versionAttr{col: "m.name", list: true}, true
	case "version_number":
		return versionAttr{col: "v.version", numeric: true}, true
	case "run_id":
		return versionAttr{col: "v.run_id", list: true, unset: true}, !forOrder
	case "source_path":
		return versionAttr{col: "v.source"}, !forOrder
	case "creation_timestamp":
		return versionAttr{col: "v.creation_timestamp", numeric: true}, forOrder
	case "last_updated_timestamp":
		return versionAttr{col: "v.last_updated_timestamp", numeric: true}, forOrder
	}
	return versionAttr{}, false
}

func resolveModelVersion(ck checker, c Comparison) (cond, error) {
	kind, ok := registryKind(c.Entity)
	if !ok {
		return cond{}, ck.errf(c, "Invalid entity type '%s'. Valid entity types are attribute, tag and tags", c.Entity)
	}
	rc := cond{Comparison: c, kind: kind, key: c.Key}
	if kind == tagKey {
		return rc, ck.apply(c, rule{what: "tag '" + c.Key + "'", ops: stringOps})
	}
	a, ok := lookupVersionAttr(c.Key, false)
	if !ok {
		return rc, ck.errf(c, "Invalid attribute key '%s' specified. Valid keys are name, version_number, run_id and source_path", c.Key)
	}
	if !a.numeric {
		if c.Value.Kind == NumberValue {
			return rc, ck.errf(c, "Only the 'version_number' attribute supports comparison with numeric values")
		}
		ops := stringOps
		if a.list {
			ops = listOps
		}
		return rc, ck.apply(c, rule{what: "attribute '" + c.Key + "'", ops: ops})
	}
	// version_number: an integer, written as a number or a quoted string.
	if c.Value.Kind == StringValue {
		n, err := strconv.ParseInt(strings.TrimSpace(c.Value.Text), 10, 64)
		if err != nil {
			return rc, ck.errf(c, "Invalid value for numeric attribute 'version_number': %s", c.Value)
		}
		rc.Value = Literal{Kind: NumberValue, Text: strconv.FormatInt(n, 10), Num: float64(n)}
	}
	if err := ck.apply(rc.Comparison, rule{what: "attribute 'version_number'", ops: numericOps, numeric: true}); err != nil {
		return rc, err
	}
	if _, ok := rc.Value.isInt(); !ok {
		return rc, ck.errf(c, "Invalid value for numeric attribute 'version_number': %s is not an integer", c.Value.Text)
	}
	return rc, nil
}

// ModelVersions compiles a model versions search to a query that
// selects (mlflow_model_versions.model_id, version) of one page, in
// order. MLflow's default order is last_updated_timestamp DESC, name,
// version_number DESC; name ASC and version_number DESC break ties of
// any order_by that lacks them. Deleted versions are never found.
func ModelVersions(req ModelVersionsRequest) (Query, error) {
	conds, err := parseConds(req.Filter, resolveModelVersion)
	if err != nil {
		return Query{}, err
	}
	orderBy := req.OrderBy
	if len(orderBy) == 0 {
		orderBy = []string{"last_updated_timestamp DESC", "name ASC", "version_number DESC"}
	}
	var orders []string
	seen := orderSeen{}
	for _, ob := range orderBy {
		t, err := ParseOrderBy(ob)
		if err != nil {
			return Query{}, err
		}
		kind, ok := registryKind(t.Entity)
		a, found := lookupVersionAttr(t.Key, true)
		if !ok || kind != attrKey || !found {
			return Query{}, invalidf("Invalid order by key in %s. Valid keys are name, version_number, creation_timestamp and last_updated_timestamp", quote(ob))
		}
		if err := seen.add(a.col, orderBy); err != nil {
			return Query{}, err
		}
		orders = append(orders, a.col+dir(t.Desc))
	}
	if !seen["m.name"] {
		orders = append(orders, "m.name ASC")
	}
	if !seen["v.version"] {
		orders = append(orders, "v.version DESC")
	}

	var b sqlb
	prompts := queryingPrompts(conds)
	ands := []string{"v.deleted = 0"}
	if !prompts {
		// MLflow leaves out every version of a model one of whose
		// versions carries the prompt tag.
		ands = append(ands, "NOT EXISTS (SELECT 1 FROM mlflow_model_version_tags pt WHERE pt.model_id = v.model_id AND pt.key = "+b.arg(PromptTag)+" AND pt.value = 'true')")
	}
	for _, c := range conds {
		var s string
		var err error
		switch {
		case c.kind == tagKey && c.key == PromptTag && !prompts:
			continue
		case c.kind == tagKey:
			s, err = keyValueCond(&b, "mlflow_model_version_tags", "t", "t.model_id = v.model_id AND t.version = v.version", c)
		default:
			a, _ := lookupVersionAttr(c.key, false)
			switch {
			case a.numeric:
				s = b.integer(a.col, c.Op, c.Value)
			case a.unset:
				s, err = b.strOrNull(a.col, c.Op, c.Value)
			default:
				s, err = b.str(a.col, c.Op, c.Value)
			}
		}
		if err != nil {
			return Query{}, err
		}
		ands = append(ands, s)
	}
	sql := "SELECT v.model_id, v.version FROM mlflow_model_versions v JOIN mlflow_registered_models m ON m.id = v.model_id" +
		where(ands) + " ORDER BY " + strings.Join(orders, ", ")
	return Query{SQL: b.page(sql, req.Offset, req.Limit), Args: b.args}, nil
}
