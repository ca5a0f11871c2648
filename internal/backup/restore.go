package backup

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/keyring"
	"github.com/arcaproject/arca/internal/meta"
)

// Destination is the installation a restore fills: its database (which
// must be empty), data directory, blob store and key-encryption key.
type Destination struct {
	DatabaseURL string // "" for SQLite in DataDir
	DataDir     string
	Blobs       *blob.Store
	KEK         *keyring.KEK
}

// RestoreReport is what Restore did.
type RestoreReport struct {
	Manifest      Manifest
	Dialect       meta.Dialect // of the destination
	Tables        map[string]int64
	Blobs, Bytes  int64
	Copied        int64
	CopiedBytes   int64
	AlreadyStored int64
}

// Restore restores backup m from t into dst:
//
//  1. fetch the metadata snapshot and check its sha256 against the manifest;
//  2. check that dst.KEK unwraps every server key in it, before writing
//     anything (without the KEK the backup's keys are lost);
//  3. check that the database is empty (meta.OpenEmpty refuses one that
//     has tables);
//  4. copy every blob the backup needs into dst.Blobs, verifying each
//     one's sha256 and size on the way (blobs first, as always);
//  5. create the schema the backup was taken with, import the rows in one
//     transaction, and compare the counts per table with the manifest.
//
// A restore that fails before step 5 leaves the database empty and can
// simply run again (blobs already copied are kept); one that fails in
// step 5 leaves the schema, which must be dropped first.
//
// The next start of arca applies the migrations newer than the backup.
func Restore(ctx context.Context, t Target, m Manifest, dst Destination, progressTo io.Writer) (RestoreReport, error) {
	rep := RestoreReport{Manifest: m}
	prog := &progress{w: progressTo, interval: 2 * time.Second}
	tmp, err := os.MkdirTemp("", "arca-restore-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(tmp)
	snap := filepath.Join(tmp, m.Metadata.Name)
	prog.printf(true, "restore %s: fetching the metadata snapshot (%s)", m.ID, humanize.IBytes(uint64(m.Metadata.Size)))
	if err := fetch(ctx, t, m.ID, m.Metadata, snap); err != nil {
		return rep, err
	}
	if err := checkKEK(snap, dst.KEK); err != nil {
		return rep, fmt.Errorf("%w (restore with the key-encryption key the backup was taken under: ARCA_KEK, ARCA_KEK_FILE or <data_dir>/kek)", err)
	}
	refs, err := readBackupBlobList(ctx, t, m, tmp)
	if err != nil {
		return rep, err
	}
	db, err := meta.OpenEmpty(ctx, dst.DatabaseURL, dst.DataDir)
	if err != nil {
		return rep, fmt.Errorf("restoring into %s: %w", dst.DataDir, err)
	}
	defer db.Close()
	rep.Dialect = db.Dialect

	prog.printf(true, "restore %s: copying %d blobs (%s)", m.ID, len(refs), humanize.IBytes(uint64(m.BlobBytes)))
	st, err := copyBlobs(ctx, blob.New(t.Blobs(), nil), dst.Blobs, refs, prog, "stored")
	if err != nil {
		return rep, err
	}
	if len(st.Missing) > 0 {
		return rep, fmt.Errorf("the backup lacks %d of its blobs (first: %s): run arca backup verify", len(st.Missing), st.Missing[0])
	}
	rep.Blobs, rep.Bytes, rep.Copied, rep.CopiedBytes, rep.AlreadyStored = st.Blobs, st.Bytes, st.Copied, st.Copies, st.Present

	prog.printf(true, "restore %s: importing %d tables into %s", m.ID, len(m.Tables), db.Dialect)
	if err := db.MigrateTo(ctx, m.SchemaVersion); err != nil {
		return rep, err
	}
	f, err := os.Open(snap)
	if err != nil {
		return rep, err
	}
	defer f.Close()
	if rep.Tables, err = Import(ctx, db, f); err != nil {
		return rep, err
	}
	for table, n := range m.Tables {
		if rep.Tables[table] != n {
			return rep, fmt.Errorf("table %s: imported %d rows, the manifest says %d", table, rep.Tables[table], n)
		}
	}
	return rep, nil
}

// checkKEK reads the server keys of a snapshot and checks that kek
// unwraps each.
func checkKEK(snapPath string, kek *keyring.KEK) error {
	f, err := os.Open(snapPath)
	if err != nil {
		return err
	}
	defer f.Close()
	sr, err := newSnapshotReader(f)
	if err != nil {
		return err
	}
	return sr.each(func(tableHeader) error { return nil }, func(h tableHeader, row []any) error {
		if h.Table != "server_secrets" {
			return nil
		}
		var c Contents
		vals := make([]any, len(row))
		for i, v := range row {
			if s, ok := v.(string); ok {
				vals[i] = s
			}
		}
		collect(h.Table, h.Columns, vals, &c)
		s := c.Secrets[0]
		return kek.Check(s.Name, s.Value, s.KEKID)
	})
}
