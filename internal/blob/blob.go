// Package blob is arca's one content-addressed store. Every byte that any
// protocol accepts — image layers, wheels, tarballs, S3 objects, MLflow
// artifacts, raw files — is written here once, named by its sha256 digest.
// Formats keep metadata rows that point at digests; they never store bytes.
//
// The Store type adds hashing, verification and metrics on top of a Driver,
// which only knows how to stage bytes and make them visible under a name.
package blob

import (
	"context"
	"encoding/hex"
	"io"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/errs"
)

// Digest names a blob: "sha256:" followed by 64 lowercase hex characters.
type Digest string

// ParseDigest validates s as a sha256 digest. Other algorithms are rejected:
// a store names its blobs by one algorithm only.
func ParseDigest(s string) (Digest, error) {
	hexPart, ok := strings.CutPrefix(s, "sha256:")
	if !ok || len(hexPart) != 64 {
		return "", errs.E(errs.Invalid, "invalid digest %q: want sha256:<64 hex>", truncate(s, 80)).WithCode("DIGEST_INVALID")
	}
	for i := 0; i < len(hexPart); i++ {
		c := hexPart[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", errs.E(errs.Invalid, "invalid digest %q: want lowercase hex", truncate(s, 80)).WithCode("DIGEST_INVALID")
		}
	}
	return Digest(s), nil
}

// FromSum builds a Digest from a raw sha256 sum.
func FromSum(sum []byte) Digest { return Digest("sha256:" + hex.EncodeToString(sum)) }

// Hex returns the hex part of d.
func (d Digest) Hex() string { return strings.TrimPrefix(string(d), "sha256:") }

func (d Digest) String() string { return string(d) }

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// Hashes selects the extra digests a writer computes beside sha256, in the
// same pass over the bytes.
type Hashes uint8

const (
	MD5 Hashes = 1 << iota
	SHA1
	SHA512
)

// Info describes a committed blob. MD5, SHA1 and SHA512 are lowercase hex and
// are set only when the writer was asked for them.
type Info struct {
	Digest Digest
	Size   int64
	MD5    string
	SHA1   string
	SHA512 string
	// Inline holds the bytes of a write the store kept for the metadata
	// database (CreateInline) instead of the driver; nil otherwise. The
	// caller records them with gc.Record in the transaction that refers to
	// the blob, or they are lost.
	Inline []byte
}

// Stat is what a driver knows about a stored blob.
type Stat struct {
	Digest  Digest
	Size    int64
	ModTime time.Time
}

// Expect is what the client claimed about the bytes it sends. Zero values
// mean "not claimed".
type Expect struct {
	Digest Digest
	Size   int64 // -1 or 0 with SizeKnown=false means unknown
	// SizeKnown distinguishes a claimed size of 0 from no claim.
	SizeKnown bool
	// MD5, SHA1 and SHA512 are claimed digests in lowercase hex. A writer
	// verifies each one it computes; Put computes the claimed ones.
	MD5, SHA1, SHA512 string
}

// hashes lists the extra digests e claims.
func (e Expect) hashes() Hashes {
	var h Hashes
	if e.MD5 != "" {
		h |= MD5
	}
	if e.SHA1 != "" {
		h |= SHA1
	}
	if e.SHA512 != "" {
		h |= SHA512
	}
	return h
}

// Driver is the storage a Store runs on: a flat namespace of immutable blobs
// named by digest, plus a staging area for writes in progress. Drivers do not
// hash or verify; the Store does. Every method must be safe for concurrent
// use by several processes sharing the same backing storage.
type Driver interface {
	// Stage starts a write. Its bytes are invisible to Open, Stat and Walk
	// until Commit returns nil.
	Stage(ctx context.Context) (StagedWriter, error)
	// Resume reopens the staged write named id (StagedWriter.ID) to append
	// from offset, which is the number of bytes the caller knows were
	// written. Bytes the driver holds past offset (the tail of a write that
	// crashed before it was recorded) are discarded. Any process sharing the
	// storage may resume a write another process staged. A missing staged
	// write is errs.NotFound. A driver that can tell that another writer
	// holds the staged write now refuses with errs.Conflict.
	Resume(ctx context.Context, id string, offset int64) (StagedWriter, error)
	// Open returns a reader of the blob's bytes starting at offset. It
	// returns an errs.NotFound error when the blob does not exist. A driver
	// whose reader is also an io.Seeker lets the Store seek without reopening.
	Open(ctx context.Context, d Digest, offset int64) (io.ReadCloser, error)
	// Stat returns the blob's size and time of commit, or errs.NotFound.
	Stat(ctx context.Context, d Digest) (Stat, error)
	// Delete removes the blob. Deleting a missing blob is not an error.
	Delete(ctx context.Context, d Digest) error
	// Walk calls fn for every committed blob, in no particular order,
	// until fn returns an error (which Walk returns).
	Walk(ctx context.Context, fn func(Stat) error) error
	// PurgeStaged removes staged writes last touched before cutoff — the
	// leftovers of writers that crashed before Commit or Cancel — and
	// returns how many it removed.
	PurgeStaged(ctx context.Context, cutoff time.Time) (int, error)
	// Ping checks that the storage is reachable, for readiness probes.
	Ping(ctx context.Context) error
}

// StagedWriter receives the bytes of one staged write.
type StagedWriter interface {
	io.Writer
	// ID names the staged write for Resume.
	ID() string
	// Close releases the writer without committing or cancelling, leaving
	// the staged bytes durable for a later Resume.
	Close() error
	// Reader reads back every byte staged so far, from the first, so that
	// the Store can verify a resumed write before Commit. It is valid only
	// until the writer is committed, cancelled or closed.
	Reader(ctx context.Context) (io.ReadCloser, error)
	// Commit durably stores the staged bytes under d and makes them visible
	// atomically. If a blob named d already exists, Commit may keep either
	// copy: both have the same content. After Commit the writer is spent.
	Commit(ctx context.Context, d Digest) error
	// Cancel discards the staged bytes. It is safe to call after Commit, in
	// which case it does nothing.
	Cancel(ctx context.Context) error
}
