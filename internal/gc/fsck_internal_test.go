package gc

import (
	"context"
	"sort"
	"testing"

	"github.com/arcaproject/arca/internal/meta"
)

// TestReferrersCoverForeignKeys checks fsck's list of columns that refer to
// blobs against the schema's foreign keys.
func TestReferrersCoverForeignKeys(t *testing.T) {
	db, err := meta.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT m.name, p."from" FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) p
		WHERE m.type = 'table' AND p."table" = 'blobs'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var schema, listed []string
	for rows.Next() {
		var table, column string
		rows.Scan(&table, &column)
		schema = append(schema, table+"."+column)
	}
	for _, r := range referrers() {
		listed = append(listed, r.table+"."+r.column)
	}
	sort.Strings(schema)
	sort.Strings(listed)
	if len(schema) == 0 || len(schema) != len(listed) {
		t.Fatalf("columns referring to blobs: schema %v, fsck lists %v", schema, listed)
	}
	for i := range schema {
		if schema[i] != listed[i] {
			t.Fatalf("columns referring to blobs: schema %v, fsck lists %v", schema, listed)
		}
	}
}
