package mlflow

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/meta"
)

// Records of evaluation datasets. An upsert names records by their
// inputs: a record whose inputs (as canonical JSON) equal a stored one's
// merges into it — outputs replaced, expectations and tags merged — and
// the others are inserted, as MLflow's SQL store does. Each upsert
// updates the dataset's schema (the type of every input, output and
// expectation field seen), profile (its number of records) and digest.

// datasetRecord is a record as GetDatasetRecords answers it (inside a
// JSON string): DatasetRecord.to_dict of MLflow's client.
type datasetRecord struct {
	DatasetRecordID string                     `json:"dataset_record_id"`
	DatasetID       string                     `json:"dataset_id"`
	Inputs          json.RawMessage            `json:"inputs"`
	Expectations    map[string]json.RawMessage `json:"expectations,omitempty"`
	Tags            map[string]json.RawMessage `json:"tags"`
	Source          json.RawMessage            `json:"source,omitempty"`
	SourceID        string                     `json:"source_id,omitempty"`
	SourceType      string                     `json:"source_type,omitempty"`
	CreatedTime     int64                      `json:"created_time"`
	LastUpdateTime  int64                      `json:"last_update_time"`
	CreatedBy       string                     `json:"created_by,omitempty"`
	LastUpdatedBy   string                     `json:"last_updated_by,omitempty"`
	Outputs         json.RawMessage            `json:"outputs,omitempty"`
}

// recordInput is one record of an upsert after parsing.
type recordInput struct {
	inputs       json.RawMessage // canonical: sorted keys
	hash         string
	hasOutputs   bool // "outputs" was given (maybe null)
	outputs      json.RawMessage
	expectations map[string]json.RawMessage
	tags         map[string]json.RawMessage
	source       json.RawMessage
}

// canonicalJSON re-encodes a JSON value with sorted object keys and
// numbers as written.
func canonicalJSON(raw json.RawMessage) (json.RawMessage, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// parseRecords reads the records of UpsertDatasetRecords: a JSON array
// of objects, as text. inputs must be an object (absent means {}),
// expectations and tags objects, source an object. Untrusted input.
func parseRecords(s string) ([]recordInput, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal([]byte(s), &raws); err != nil {
		return nil, invalidParam("Invalid value for parameter 'records': want a JSON array of records as text")
	}
	out := make([]recordInput, 0, len(raws))
	for i, raw := range raws {
		var rec struct {
			Inputs       json.RawMessage            `json:"inputs"`
			Outputs      *json.RawMessage           `json:"outputs"`
			Expectations map[string]json.RawMessage `json:"expectations"`
			Tags         map[string]json.RawMessage `json:"tags"`
			Source       json.RawMessage            `json:"source"`
		}
		if !isObject(raw) || json.Unmarshal(raw, &rec) != nil {
			return nil, invalidParam("Invalid record %d: a record is an object with inputs, outputs, expectations, tags and source", i)
		}
		in := recordInput{expectations: rec.Expectations, tags: rec.Tags}
		if !present(rec.Inputs) {
			rec.Inputs = json.RawMessage("{}")
		}
		if !isObject(rec.Inputs) {
			return nil, invalidParam("Invalid record %d: inputs must be an object", i)
		}
		var err error
		if in.inputs, err = canonicalJSON(rec.Inputs); err != nil {
			return nil, invalidParam("Invalid record %d: inputs: %v", i, err)
		}
		sum := sha256.Sum256(in.inputs)
		in.hash = hex.EncodeToString(sum[:])
		if rec.Outputs != nil {
			in.hasOutputs = true
			if present(*rec.Outputs) {
				in.outputs = *rec.Outputs
			}
		}
		if present(rec.Source) {
			if !isObject(rec.Source) {
				return nil, invalidParam("Invalid record %d: source must be an object", i)
			}
			in.source = rec.Source
		}
		out = append(out, in)
	}
	return out, nil
}

// rawString returns a JSON string's value, or "" for anything else.
func rawString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// recordSource returns the source type and id MLflow derives from a
// record's source: source_data.trace_id for traces, else
// source_data.source_id.
func recordSource(src json.RawMessage) (typ, id string) {
	var s struct {
		SourceType string                     `json:"source_type"`
		SourceData map[string]json.RawMessage `json:"source_data"`
	}
	if json.Unmarshal(src, &s) != nil {
		return "", ""
	}
	if s.SourceType == "TRACE" {
		return s.SourceType, rawString(s.SourceData["trace_id"])
	}
	return s.SourceType, rawString(s.SourceData["source_id"])
}

// merge applies an upsert of the same inputs to a stored record.
func (r *datasetRecord) merge(in recordInput, now int64) {
	if in.hasOutputs {
		r.Outputs = in.outputs
	}
	if len(in.expectations) > 0 {
		if r.Expectations == nil {
			r.Expectations = map[string]json.RawMessage{}
		}
		for k, v := range in.expectations {
			r.Expectations[k] = v
		}
	}
	if len(in.tags) > 0 {
		if r.Tags == nil {
			r.Tags = map[string]json.RawMessage{}
		}
		for k, v := range in.tags {
			r.Tags[k] = v
		}
		if u := rawString(in.tags[mlflowUserTag]); u != "" {
			r.LastUpdatedBy = u
		}
	}
	r.LastUpdateTime = now
}

// newRecord is an inserted record: outputs {} when none were given, as
// MLflow stores them.
func newRecord(datasetID string, in recordInput, now int64) datasetRecord {
	r := datasetRecord{DatasetRecordID: "dr-" + randomHex(16), DatasetID: datasetID, Inputs: in.inputs,
		Expectations: in.expectations, Tags: in.tags, Source: in.source, CreatedTime: now, LastUpdateTime: now}
	if r.Tags == nil {
		r.Tags = map[string]json.RawMessage{}
	}
	r.Outputs = json.RawMessage("{}")
	if in.hasOutputs {
		r.Outputs = in.outputs
	}
	if in.source != nil {
		r.SourceType, r.SourceID = recordSource(in.source)
	}
	r.CreatedBy = rawString(in.tags[mlflowUserTag])
	r.LastUpdatedBy = r.CreatedBy
	return r
}

// upsertDatasetRecords is UpsertDatasetRecords (POST datasets/<id>/records).
func (h *Handler) upsertDatasetRecords(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req struct {
		Records *string `json:"records"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	id := r.PathValue("dataset_id")
	if err := h.requireDataset(ctx, id, Edit); err != nil {
		return err
	}
	if req.Records == nil {
		return invalidParam("Missing value for required parameter 'records'.")
	}
	records, err := parseRecords(*req.Records)
	if err != nil {
		return err
	}
	var inserted, updated int
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		inserted, updated = 0, 0
		var name, schemaText, updatedBy string
		// Locks the dataset row: upserts of one dataset run one at a time.
		if err := tx.QueryRowContext(ctx, `UPDATE mlflow_eval_datasets SET last_update_time = last_update_time WHERE dataset_id = $1
			RETURNING name, data_schema`, id).Scan(&name, &schemaText); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return datasetNotFound(id)
			}
			return meta.Err(err)
		}
		now := meta.Now()
		for _, in := range records {
			if u := rawString(in.tags[mlflowUserTag]); u != "" {
				updatedBy = u
			}
			var rid, body string
			err := tx.QueryRowContext(ctx, `SELECT record_id, body FROM mlflow_eval_dataset_records WHERE dataset_id = $1 AND input_hash = $2`,
				id, in.hash).Scan(&rid, &body)
			switch {
			case err == nil:
				var rec datasetRecord
				if err := json.Unmarshal([]byte(body), &rec); err != nil {
					return meta.Err(err)
				}
				rec.merge(in, now)
				b, err := json.Marshal(rec)
				if err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `UPDATE mlflow_eval_dataset_records SET body = $1, last_update_time = $2 WHERE record_id = $3`,
					string(b), now, rid); err != nil {
					return meta.Err(err)
				}
				updated++
			case errors.Is(err, sql.ErrNoRows):
				rec := newRecord(id, in, now)
				b, err := json.Marshal(rec)
				if err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO mlflow_eval_dataset_records (record_id, dataset_id, input_hash, body, created_time, last_update_time)
					VALUES ($1, $2, $3, $4, $5, $5)`, rec.DatasetRecordID, id, in.hash, string(b), now); err != nil {
					return meta.Err(err)
				}
				inserted++
			default:
				return meta.Err(err)
			}
		}
		schema, err := updateDatasetSchema(schemaText, records)
		if err != nil {
			return err
		}
		var n int64
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM mlflow_eval_dataset_records WHERE dataset_id = $1`, id).Scan(&n); err != nil {
			return meta.Err(err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE mlflow_eval_datasets SET last_update_time = $1, last_updated_by = $2, digest = $3,
			data_schema = $4, profile = $5 WHERE dataset_id = $6`, now, updatedBy, datasetDigest(name, now), schema, datasetProfile(n), id)
		return meta.Err(err)
	})
	if err != nil {
		return err
	}
	return reply(w, map[string]int{"inserted_count": inserted, "updated_count": updated})
}

// datasetProfile is a dataset's profile with n records ("" with none).
func datasetProfile(n int64) string {
	if n <= 0 {
		return ""
	}
	return `{"num_records": ` + strconv.FormatInt(n, 10) + `}`
}

// fieldType names a JSON value's type as MLflow's schema does.
func fieldType(raw json.RawMessage) string {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 {
		return "unknown"
	}
	switch b[0] {
	case 'n':
		return "null"
	case 't', 'f':
		return "boolean"
	case '"':
		return "string"
	case '[':
		return "array"
	case '{':
		return "object"
	}
	if bytes.ContainsAny(b, ".eE") {
		return "float"
	}
	return "integer"
}

// updateDatasetSchema adds the fields of records that the schema (JSON
// text, "" for none yet) lacks; outputs that are not objects give the
// outputs one type.
func updateDatasetSchema(text string, records []recordInput) (string, error) {
	if text == "" && len(records) == 0 {
		return "", nil
	}
	schema := map[string]json.RawMessage{}
	if text != "" {
		if err := json.Unmarshal([]byte(text), &schema); err != nil {
			return "", meta.Err(err)
		}
	}
	fields := func(key string) map[string]string {
		m := map[string]string{}
		json.Unmarshal(schema[key], &m)
		return m
	}
	inputs, expectations := fields("inputs"), fields("expectations")
	outputs, outputType := fields("outputs"), rawString(schema["outputs"])
	add := func(into map[string]string, obj json.RawMessage) {
		var m map[string]json.RawMessage
		json.Unmarshal(obj, &m)
		for k, v := range m {
			if _, ok := into[k]; !ok {
				into[k] = fieldType(v)
			}
		}
	}
	for _, r := range records {
		add(inputs, r.inputs)
		for k, v := range r.expectations {
			if _, ok := expectations[k]; !ok {
				expectations[k] = fieldType(v)
			}
		}
		switch {
		case r.outputs == nil:
		case isObject(r.outputs):
			if outputType == "" {
				add(outputs, r.outputs)
			}
		case outputType == "" && len(outputs) == 0:
			outputType = fieldType(r.outputs)
		}
	}
	out := map[string]any{"inputs": inputs, "outputs": outputs, "expectations": expectations, "version": "1.0"}
	if outputType != "" {
		out["outputs"] = outputType
	}
	if v := rawString(schema["version"]); v != "" {
		out["version"] = v
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// getDatasetRecords is GetDatasetRecords (GET datasets/<id>/records): a
// page of records, oldest first, as a JSON string; the page token is
// MLflow's cursor, base64 of "<created_time>:<record id>".
func (h *Handler) getDatasetRecords(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req struct {
		MaxResults *Int64 `json:"max_results"`
		PageToken  string `json:"page_token"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	limit := 1000
	if req.MaxResults != nil && *req.MaxResults != 0 {
		var err error
		if limit, err = registryPageSize(req.MaxResults, 1000, 50000); err != nil {
			return err
		}
	}
	id := r.PathValue("dataset_id")
	if err := h.requireDataset(ctx, id, Read); err != nil {
		return err
	}
	query, args := `SELECT record_id, body, created_time, last_update_time FROM mlflow_eval_dataset_records WHERE dataset_id = $1`, []any{id}
	if req.PageToken != "" {
		after, afterID, err := decodeRecordCursor(req.PageToken)
		if err != nil {
			return err
		}
		query += ` AND (created_time > $2 OR (created_time = $2 AND record_id > $3))`
		args = append(args, after, afterID)
	}
	query += ` ORDER BY created_time, record_id LIMIT ` + strconv.Itoa(limit+1)
	rows, err := h.db.QueryContext(ctx, query, args...)
	if err != nil {
		return meta.Err(err)
	}
	defer rows.Close()
	records := []datasetRecord{}
	for rows.Next() {
		var rec datasetRecord
		var rid, body string
		var created, updated int64
		if err := rows.Scan(&rid, &body, &created, &updated); err != nil {
			return meta.Err(err)
		}
		if err := json.Unmarshal([]byte(body), &rec); err != nil {
			return meta.Err(err)
		}
		rec.DatasetRecordID, rec.DatasetID, rec.CreatedTime, rec.LastUpdateTime = rid, id, created, updated
		records = append(records, rec)
	}
	if err := rows.Err(); err != nil {
		return meta.Err(err)
	}
	out := struct {
		Records       string `json:"records"`
		NextPageToken string `json:"next_page_token,omitempty"`
	}{}
	if len(records) > limit {
		records = records[:limit]
		last := records[limit-1]
		out.NextPageToken = base64.StdEncoding.EncodeToString([]byte(strconv.FormatInt(last.CreatedTime, 10) + ":" + last.DatasetRecordID))
	}
	b, err := json.Marshal(records)
	if err != nil {
		return err
	}
	out.Records = string(b)
	return reply(w, out)
}

// decodeRecordCursor reads a records page token.
func decodeRecordCursor(token string) (int64, string, error) {
	b, err := base64.StdEncoding.DecodeString(token)
	if err == nil {
		t, id, ok := strings.Cut(string(b), ":")
		if n, err := strconv.ParseInt(t, 10, 64); ok && err == nil {
			return n, id, nil
		}
	}
	return 0, "", invalidParam("Invalid page token %q", token)
}

// deleteDatasetRecords is DeleteDatasetRecords (DELETE datasets/<id>/records).
func (h *Handler) deleteDatasetRecords(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req struct {
		DatasetRecordIDs []string `json:"dataset_record_ids"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	id := r.PathValue("dataset_id")
	if err := h.requireDataset(ctx, id, Edit); err != nil {
		return err
	}
	var deleted int64
	err := h.db.WithTx(ctx, func(tx *sql.Tx) error {
		deleted = 0
		for _, rid := range req.DatasetRecordIDs {
			res, err := tx.ExecContext(ctx, `DELETE FROM mlflow_eval_dataset_records WHERE dataset_id = $1 AND record_id = $2`, id, rid)
			if err != nil {
				return meta.Err(err)
			}
			n, _ := res.RowsAffected()
			deleted += n
		}
		if deleted == 0 {
			return nil
		}
		var n int64
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM mlflow_eval_dataset_records WHERE dataset_id = $1`, id).Scan(&n); err != nil {
			return meta.Err(err)
		}
		_, err := tx.ExecContext(ctx, `UPDATE mlflow_eval_datasets SET profile = $1 WHERE dataset_id = $2`, datasetProfile(n), id)
		return meta.Err(err)
	})
	if err != nil {
		return err
	}
	return reply(w, map[string]int64{"deleted_count": deleted})
}
