package oci

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/meta"
)

// store is the OCI surface's metadata.
type store struct {
	db    *meta.DB
	blobs gc.Stater
}

// blobInfo is a stored blob as the registry sees it.
type blobInfo struct {
	Digest blob.Digest // sha256, the store's name for it
	Size   int64
}

// resolve finds the stored blob a client digest names: sha256 digests name
// blobs directly; sha512 digests through the sha512 recorded beside them.
func (s store) resolve(ctx context.Context, q meta.Querier, d Digest) (blobInfo, error) {
	var b blobInfo
	var dg string
	var err error
	if d.Algorithm == "sha256" {
		dg = d.String()
		err = q.QueryRowContext(ctx, `SELECT size FROM blobs WHERE digest = $1`, dg).Scan(&b.Size)
	} else {
		err = q.QueryRowContext(ctx, `SELECT digest, size FROM blobs WHERE sha512 = $1`, d.Hex).Scan(&dg, &b.Size)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return b, errs.E(errs.NotFound, "blob %s unknown", d).WithCode(codeBlobUnknown)
	}
	b.Digest = blob.Digest(dg)
	return b, meta.Err(err)
}

// linkedBlob resolves d and checks that the image may serve it.
func (s store) linkedBlob(ctx context.Context, repoID int64, image string, d Digest) (blobInfo, error) {
	b, err := s.resolve(ctx, s.db, d)
	if err != nil {
		return b, err
	}
	var one int
	err = s.db.QueryRowContext(ctx, `SELECT 1 FROM oci_blobs WHERE repository_id = $1 AND name = $2 AND digest = $3`,
		repoID, image, string(b.Digest)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return b, errs.E(errs.NotFound, "blob %s unknown to %s", d, image).WithCode(codeBlobUnknown)
	}
	return b, meta.Err(err)
}

// link lets the image serve a blob.
func (s store) link(ctx context.Context, q meta.Querier, repoID int64, image string, d blob.Digest) error {
	_, err := q.ExecContext(ctx,
		`INSERT INTO oci_blobs (repository_id, name, digest, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		repoID, image, string(d), meta.Now())
	return meta.Err(err)
}

// recordAndLink records a freshly committed blob and links it, in one
// transaction.
func (s store) recordAndLink(ctx context.Context, repoID int64, image string, info blob.Info) error {
	return s.db.WithBatchTx(ctx, func(tx *sql.Tx) error {
		if err := gc.Record(ctx, tx, s.blobs, gc.BlobOf(info)); err != nil {
			return err
		}
		return s.link(ctx, tx, repoID, image, info.Digest)
	})
}

// mountBlob links a blob that is already stored, claiming it against
// garbage collection in the same transaction; a blob collected meanwhile is
// errs.NotFound.
func (s store) mountBlob(ctx context.Context, repoID int64, image string, d blob.Digest) error {
	return s.db.WithBatchTx(ctx, func(tx *sql.Tx) error {
		if err := gc.Claim(ctx, tx, string(d)); err != nil {
			return err
		}
		return s.link(ctx, tx, repoID, image, d)
	})
}

func (s store) unlink(ctx context.Context, repoID int64, image string, d blob.Digest) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM oci_blobs WHERE repository_id = $1 AND name = $2 AND digest = $3`, repoID, image, string(d))
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "blob %s unknown", d).WithCode(codeBlobUnknown)
	}
	return nil
}

// linkedAnywhere lists the repositories in which some image links d.
func (s store) linkedAnywhere(ctx context.Context, d blob.Digest) ([]string, error) {
	return meta.QueryStrings(ctx, s.db, `SELECT DISTINCT r.name FROM oci_blobs b JOIN repositories r ON r.id = b.repository_id WHERE b.digest = $1`, string(d))
}

// upload is a blob upload session.
type upload struct {
	ID    string
	State blob.WriterState
}

func (s store) createUpload(ctx context.Context, repoID int64, image string, st blob.WriterState) error {
	b, _ := json.Marshal(st)
	now := meta.Now()
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO oci_uploads (id, repository_id, name, state, size, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)`,
		st.ID, repoID, image, string(b), st.Size, now)
	return meta.Err(err)
}

func (s store) getUpload(ctx context.Context, repoID int64, image, id string) (upload, error) {
	var raw string
	err := s.db.QueryRowContext(ctx, `SELECT state FROM oci_uploads WHERE id = $1 AND repository_id = $2 AND name = $3`,
		id, repoID, image).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return upload{}, errs.E(errs.NotFound, "upload %s unknown", truncate(id)).WithCode(codeBlobUploadUnknown)
	}
	if err != nil {
		return upload{}, meta.Err(err)
	}
	u := upload{ID: id}
	if err := json.Unmarshal([]byte(raw), &u.State); err != nil {
		return upload{}, errs.Wrap(err, errs.Internal, "corrupt upload state")
	}
	return u, nil
}

// An upload session has one writer at a time: a request takes the
// session's lease (a random token in its row) before it reads its body,
// renews it while bytes keep arriving, and gives it back when it saves the
// session's new state. A lease not renewed for uploadLease lapses, so a
// writer that died does not block the session for long.
const (
	uploadLease      = time.Minute
	uploadLeaseRenew = 15 * time.Second
)

// takeUpload gives the caller the writer lease of session id, provided the
// session still holds size bytes and no other request holds an unexpired
// lease; otherwise the chunk is out of order (416).
func (s store) takeUpload(ctx context.Context, id string, size int64) (string, error) {
	token := auth.RandomSecret(16)
	now := meta.Now()
	res, err := s.db.ExecContext(ctx, `UPDATE oci_uploads SET writer = $1, writer_until = $2
		WHERE id = $3 AND size = $4 AND (writer = '' OR writer_until < $5)`,
		token, now+uploadLease.Milliseconds(), id, size, now)
	if err != nil {
		return "", meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return "", errs.E(errs.Invalid, "another chunk of upload %s is being written, or it moved on; ask for its status", truncate(id)).WithCode(codeRangeInvalid)
	}
	return token, nil
}

// renewUpload extends the caller's lease; a lease lost meanwhile fails.
func (s store) renewUpload(ctx context.Context, id, token string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE oci_uploads SET writer_until = $1 WHERE id = $2 AND writer = $3`,
		meta.Now()+uploadLease.Milliseconds(), id, token)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.Invalid, "upload %s was taken over by another request", truncate(id)).WithCode(codeRangeInvalid)
	}
	return nil
}

// releaseUpload gives the lease back without changing the session.
func (s store) releaseUpload(ctx context.Context, id, token string) {
	s.db.ExecContext(ctx, `UPDATE oci_uploads SET writer = '' WHERE id = $1 AND writer = $2`, id, token)
}

// advanceUpload saves a session's new state and releases the caller's
// lease; a lease lost meanwhile is a conflict the client sees as 416.
func (s store) advanceUpload(ctx context.Context, id, token string, st blob.WriterState) error {
	b, _ := json.Marshal(st)
	res, err := s.db.ExecContext(ctx, `UPDATE oci_uploads SET state = $1, size = $2, updated_at = $3, writer = '' WHERE id = $4 AND writer = $5`,
		string(b), st.Size, meta.Now(), id, token)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.Invalid, "upload %s was changed concurrently", truncate(id)).WithCode(codeRangeInvalid)
	}
	return nil
}

// endUpload deletes the session that the caller holds the lease of.
func (s store) endUpload(ctx context.Context, id, token string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM oci_uploads WHERE id = $1 AND writer = $2`, id, token)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.Invalid, "upload %s was changed concurrently", truncate(id)).WithCode(codeRangeInvalid)
	}
	return nil
}

func (s store) deleteUpload(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM oci_uploads WHERE id = $1`, id)
	return meta.Err(err)
}

// leasedBody reads a chunk's body, renewing the session's lease as bytes
// keep arriving; a lease lost meanwhile ends the read with an error.
type leasedBody struct {
	ctx       context.Context
	r         io.Reader
	store     store
	id, token string
	renewed   time.Time
}

func (b *leasedBody) Read(p []byte) (int, error) {
	if time.Since(b.renewed) >= uploadLeaseRenew {
		if err := b.store.renewUpload(b.ctx, b.id, b.token); err != nil {
			return 0, err
		}
		b.renewed = time.Now()
	}
	return b.r.Read(p)
}
