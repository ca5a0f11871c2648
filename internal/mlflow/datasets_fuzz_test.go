package mlflow

import (
	"encoding/json"
	"testing"

	"github.com/arcaproject/arca/internal/errs"
)

// FuzzDatasetRecords feeds any text to the records parser of
// UpsertDatasetRecords and the tags parser of CreateDataset: they never
// panic and refuse with INVALID_PARAMETER_VALUE; accepted records hash
// their canonical inputs, insert, merge and update a schema that stays
// a JSON object.
func FuzzDatasetRecords(f *testing.F) {
	for _, s := range []string{
		`[{"inputs": {"q": "x", "n": 1}, "expectations": {"a": "2"}, "outputs": "y", "tags": {"mlflow.user": "u"}}]`,
		`[{"inputs": {"b": [1, 2.5e3], "a": {"z": null}}, "outputs": {"k": true}, "source": {"source_type": "TRACE", "source_data": {"trace_id": "t"}}}]`,
		`[{}]`, `[{"outputs": null}]`, `[{"inputs": 5}]`, `[1]`, `{}`, `[]`, `[{"tags": {"a": 1}}, {"inputs": {"q": "x"}}]`,
		`[{"inputs": {"q": "\u00e9<&>"}, "expectations": {"x": 12345678901234567890}}]`,
	} {
		f.Add(s, `{"team": "a", "n": 1, "x": null}`)
	}
	f.Fuzz(func(t *testing.T, records, tags string) {
		if _, err := parseTagsJSON(tags); err != nil && errs.CodeOf(err) != codeInvalidParameter {
			t.Fatalf("tags %q: %v", tags, err)
		}
		ins, err := parseRecords(records)
		if err != nil {
			if errs.CodeOf(err) != codeInvalidParameter {
				t.Fatalf("records %q: %v", records, err)
			}
			return
		}
		for _, in := range ins {
			if len(in.hash) != 64 || !isObject(in.inputs) {
				t.Fatalf("records %q: hash %q inputs %s", records, in.hash, in.inputs)
			}
			again, err := canonicalJSON(in.inputs)
			if err != nil || string(again) != string(in.inputs) {
				t.Fatalf("inputs %s are not canonical: %s %v", in.inputs, again, err)
			}
			rec := newRecord("d-1", in, 1)
			rec.merge(in, 2)
			if _, err := json.Marshal(rec); err != nil {
				t.Fatalf("record of %q does not marshal: %v", records, err)
			}
		}
		schema, err := updateDatasetSchema("", ins)
		if err != nil {
			t.Fatalf("schema of %q: %v", records, err)
		}
		if schema, err = updateDatasetSchema(schema, ins); err != nil {
			t.Fatalf("schema update of %q: %v", records, err)
		}
		var m map[string]json.RawMessage
		if schema != "" && json.Unmarshal([]byte(schema), &m) != nil {
			t.Fatalf("schema %q is not an object", schema)
		}
	})
}
