package search

import (
	"fmt"
	"strings"
)

// loggedModelAttr resolves a logged model attribute and its aliases.
func loggedModelAttr(key string) (col string, numeric, ok bool) {
	switch key {
	case "name":
		return "lm.name", false, true
	case "model_id":
		return "lm.id", false, true
	case "model_type":
		return "lm.model_type", false, true
	case "status":
		return "lm.status", false, true
	case "source_run_id":
		return "lm.source_run_id", false, true
	case "creation_timestamp", "creation_time", "creation_timestamp_ms":
		return "lm.creation_timestamp", true, true
	case "last_updated_timestamp", "last_updated_time", "last_updated_timestamp_ms":
		return "lm.last_updated_timestamp", true, true
	}
	return "", false, false
}

const loggedModelAttrNames = "name, model_id, model_type, status, source_run_id, creation_timestamp, last_updated_timestamp"

// loggedModelKind maps an identifier prefix of a logged models search,
// which, unlike the others, takes only the plural forms.
func loggedModelKind(entity string) (keyKind, bool) {
	switch entity {
	case "", "attributes":
		return attrKey, true
	case "metrics":
		return metricKey, true
	case "params":
		return paramKey, true
	case "tags":
		return tagKey, true
	}
	return 0, false
}

func resolveLoggedModel(ck checker, c Comparison) (cond, error) {
	kind, ok := loggedModelKind(c.Entity)
	if !ok {
		return cond{}, ck.errf(c, "Invalid entity type '%s'. Expected one of attributes, metrics, params and tags", c.Entity)
	}
	rc := cond{Comparison: c, kind: kind, key: c.Key}
	what := kind.String() + " '" + c.Key + "'"
	switch kind {
	case metricKey:
		return rc, ck.apply(c, rule{what: what, ops: numericOps, numeric: true})
	case paramKey, tagKey:
		return rc, ck.apply(c, rule{what: what, ops: listOps})
	}
	_, numeric, ok := loggedModelAttr(c.Key)
	if !ok {
		return rc, ck.errf(c, "Invalid attribute key '%s' specified. Valid keys are %s", c.Key, loggedModelAttrNames)
	}
	if numeric {
		return rc, ck.apply(c, rule{what: what, ops: numericOps, numeric: true})
	}
	return rc, ck.apply(c, rule{what: what, ops: listOps})
}

// LoggedModels compiles a logged models search to a query that selects
// mlflow_logged_models.id of one page, in order: the order_by fields,
// missing metric values last, then creation_timestamp DESC and id
// (unless ordered by already). A metric comparison matches a model with
// any point of that metric that compares (on one of req.Datasets, when
// given); ordering by a metric uses its latest point (greatest
// timestamp, then step). Datasets without a metric comparison keep the
// models with any metric on them. Deleted models are never found.
func LoggedModels(req LoggedModelsRequest) (Query, error) {
	conds, err := parseConds(req.Filter, resolveLoggedModel)
	if err != nil {
		return Query{}, err
	}
	for _, d := range req.Datasets {
		if d.DatasetName == "" {
			return Query{}, invalidf("`dataset_name` in the `datasets` clause must be specified")
		}
	}
	var b sqlb
	// The partial index on mlflow_metrics(model_id) covers model_id <> ''.
	const pointsOf = "mm.model_id = lm.id AND mm.model_id <> ''"
	datasets := func() string {
		var ors []string
		for _, d := range req.Datasets {
			s := "mm.dataset_name = " + b.arg(d.DatasetName)
			if d.DatasetDigest != "" {
				s += " AND mm.dataset_digest = " + b.arg(d.DatasetDigest)
			}
			ors = append(ors, "("+s+")")
		}
		if len(ors) == 0 {
			return ""
		}
		return " AND (" + strings.Join(ors, " OR ") + ")"
	}

	ands := []string{"lm.lifecycle_stage <> 'deleted'", b.inExperiments("lm.experiment_id", req.ExperimentIDs)}
	hasMetric := false
	for _, c := range conds {
		var s string
		var err error
		switch c.kind {
		case metricKey:
			hasMetric = true
			v, _ := metricCond(&b, "mm", c.Op, c.Value.Num)
			s = "EXISTS (SELECT 1 FROM mlflow_metrics mm WHERE " + pointsOf + " AND mm.key = " + b.arg(c.key) + " AND " + v + datasets() + ")"
		case paramKey:
			s, err = keyValueCond(&b, "mlflow_logged_model_params", "p", "p.model_id = lm.id", c)
		case tagKey:
			s, err = keyValueCond(&b, "mlflow_logged_model_tags", "p", "p.model_id = lm.id", c)
		default:
			col, numeric, _ := loggedModelAttr(c.key)
			switch {
			case numeric:
				s = b.integer(col, c.Op, c.Value)
			case col == "lm.source_run_id" || col == "lm.model_type":
				// '' is not set (NULL in MLflow).
				s, err = b.strOrNull(col, c.Op, c.Value)
			default:
				s, err = b.str(col, c.Op, c.Value)
			}
		}
		if err != nil {
			return Query{}, err
		}
		ands = append(ands, s)
	}
	if len(req.Datasets) > 0 && !hasMetric {
		ands = append(ands, "EXISTS (SELECT 1 FROM mlflow_metrics mm WHERE "+pointsOf+datasets()+")")
	}

	var orders []string
	hasCreation, hasID := false, false
	for _, ob := range req.OrderBy {
		if ob.DatasetDigest != "" && ob.DatasetName == "" {
			return Query{}, invalidf("`dataset_digest` can only be specified if `dataset_name` is also specified")
		}
		field := strings.TrimSpace(ob.FieldName)
		if entity, key, ok := strings.Cut(field, "."); ok {
			if entity != "metrics" {
				return Query{}, invalidf("Invalid order by field name: %s, only `metrics.<name>` is allowed", quote(entity))
			}
			key = strings.Trim(key, "`")
			latest := "SELECT mm.value FROM mlflow_metrics mm WHERE " + pointsOf + " AND mm.key = " + b.arg(key)
			if ob.DatasetName != "" {
				latest += " AND mm.dataset_name = " + b.arg(ob.DatasetName)
			}
			if ob.DatasetDigest != "" {
				latest += " AND mm.dataset_digest = " + b.arg(ob.DatasetDigest)
			}
			latest += " ORDER BY mm.timestamp DESC, mm.step DESC, mm.run_id LIMIT 1"
			orders = append(orders, fmt.Sprintf("(%s)%s NULLS LAST", latest, dir(!ob.Ascending)))
			continue
		}
		col, _, ok := loggedModelAttr(field)
		if !ok {
			return Query{}, invalidf("Invalid order by field name: %s. Valid fields are %s and metrics.<name>", quote(field), loggedModelAttrNames)
		}
		hasCreation = hasCreation || col == "lm.creation_timestamp"
		hasID = hasID || col == "lm.id"
		orders = append(orders, col+dir(!ob.Ascending))
	}
	if !hasCreation {
		orders = append(orders, "lm.creation_timestamp DESC")
	}
	if !hasID {
		orders = append(orders, "lm.id ASC")
	}
	sql := "SELECT lm.id FROM mlflow_logged_models lm" + where(ands) + " ORDER BY " + strings.Join(orders, ", ")
	return Query{SQL: b.page(sql, req.Offset, req.Limit), Args: b.args}, nil
}
