package meta

import (
	"context"
	"database/sql"
	"testing"
)

// BenchmarkWriters: transactions of one row from concurrent writers of
// one process (the cost of the write turn, in and among processes, beside
// SQLite's commit).
func BenchmarkWriters(b *testing.B) {
	ctx := context.Background()
	db := openRowsDB(b, b.TempDir())
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := db.WithTx(ctx, func(tx *sql.Tx) error {
				_, err := tx.Exec(`INSERT INTO x (v) VALUES ('w')`)
				return err
			}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
