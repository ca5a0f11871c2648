package mlflow

import (
	"context"
	"io"
	"mime"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/s3api"
)

// The artifact proxy: what `mlflow server --serve-artifacts` serves below
// /api/2.0/mlflow-artifacts. An artifact path is an object key of the
// artifact bucket; its first segment is the experiment it belongs to (see
// locations.go), which decides who may read, write and delete it.

// ObjectStore is the bucket artifacts are stored in: s3api.Objects, so
// that artifacts are ordinary objects (same blobs, ETags and limits) that
// any S3 client lists and reads. It does not authorize; the handlers do.
type ObjectStore interface {
	// Put streams body (size bytes, or -1 when unknown) into key.
	Put(ctx context.Context, bucket, key string, body io.Reader, size int64, contentType string) (s3api.ObjectInfo, error)
	// Open returns an object and a seekable reader of it (errs.NotFound when absent).
	Open(ctx context.Context, bucket, key string) (s3api.ObjectInfo, io.ReadSeekCloser, error)
	// Delete removes key, reporting whether it existed.
	Delete(ctx context.Context, bucket, key string) (bool, error)
	// List pages through keys under prefix after after, rolling keys up
	// into common prefixes at delimiter.
	List(ctx context.Context, bucket, prefix, delimiter, after string, limit int) (s3api.ObjectPage, error)
	// CreateUpload starts a multipart upload of key.
	CreateUpload(ctx context.Context, bucket, key, contentType string) (uploadID string, err error)
	// UploadPart stores part n of an upload and returns its ETag.
	UploadPart(ctx context.Context, bucket, uploadID string, n int, body io.Reader, size int64) (etag string, err error)
	// CompleteUpload assembles the parts into key.
	CompleteUpload(ctx context.Context, bucket, key, uploadID string, parts []s3api.CompletedPart) (s3api.ObjectInfo, error)
	// AbortUpload drops an upload.
	AbortUpload(ctx context.Context, bucket, key, uploadID string) error
}

// artifactBucket names the bucket artifacts go to: the space's
// artifact_bucket setting, or DefaultArtifactBucket.
func (h *Handler) artifactBucket(ctx context.Context) (string, error) {
	space, err := h.spaceRepo(ctx)
	if err != nil {
		return "", err
	}
	if b, ok := space.Settings["artifact_bucket"].(string); ok && b != "" {
		return b, nil
	}
	return DefaultArtifactBucket, nil
}

// objectError translates the object store's errors for MLflow clients: a
// missing bucket is a server misconfiguration, not a missing artifact.
func objectError(err error, bucket string) error {
	if errs.CodeOf(err) == "NoSuchBucket" {
		return errs.E(errs.Unavailable, "the artifact bucket %q does not exist; create it (format s3) or set the MLflow repository's artifact_bucket", bucket)
	}
	return err
}

// requireArtifact checks the caller's permission on an artifact key (or,
// for "", the artifact root): on its experiment when the key names one,
// else on the MLflow space.
func (h *Handler) requireArtifact(ctx context.Context, key string, need Permission) error {
	if id, ok := artifactExperiment(key); ok {
		return h.requireExperiment(ctx, id, need)
	}
	return h.require(ctx, "", 0, need)
}

// recordArtifact adds an audit event of an artifact change.
func (h *Handler) recordArtifact(r *http.Request, action, key string, detail map[string]any) {
	h.audit.Record(r.Context(), audit.Event{Action: action, Repository: h.space, Subject: key, RemoteAddr: r.RemoteAddr, Detail: detail})
}

// getArtifact downloads an artifact, with ranges and conditional requests.
func (h *Handler) getArtifact(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	key, err := cleanArtifactPath(r.PathValue("path"))
	if err != nil {
		return err
	}
	if err := h.requireArtifact(ctx, key, Read); err != nil {
		return err
	}
	bucket, err := h.artifactBucket(ctx)
	if err != nil {
		return err
	}
	info, rd, err := h.objects.Open(ctx, bucket, key)
	if errs.Is(err, errs.NotFound) && errs.CodeOf(err) != "NoSuchBucket" {
		if page, lerr := h.objects.List(ctx, bucket, key+"/", "", "", 1); lerr == nil && len(page.Objects) > 0 {
			return invalidParam("Artifact path refers to a directory, not a file: '%s'", key)
		}
		return notExist("artifact %q does not exist", key)
	}
	if err != nil {
		return objectError(err, bucket)
	}
	defer rd.Close()
	hdr := w.Header()
	hdr.Set("Content-Type", downloadType(info.ContentType, key))
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(key)}))
	hdr.Set("ETag", `"`+info.ETag+`"`)
	http.ServeContent(w, r, "", info.Modified, rd)
	return nil
}

// downloadType is the Content-Type an artifact is served with: what it was
// uploaded with (the client sends the type of the file's extension), or,
// for objects stored without one, the type of the key's extension.
func downloadType(stored, key string) string {
	if stored != "" && stored != "binary/octet-stream" {
		return stored
	}
	if t := mime.TypeByExtension(path.Ext(key)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// putArtifact uploads an artifact, streaming the body into the blob store.
func (h *Handler) putArtifact(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	key, err := cleanArtifactPath(r.PathValue("path"))
	if err != nil {
		return err
	}
	if err := h.requireArtifact(ctx, key, Edit); err != nil {
		return err
	}
	bucket, err := h.artifactBucket(ctx)
	if err != nil {
		return err
	}
	info, err := h.objects.Put(ctx, bucket, key, r.Body, r.ContentLength, r.Header.Get("Content-Type"))
	if err != nil {
		return objectError(err, bucket)
	}
	h.recordArtifact(r, "mlflow.artifact.put", key, map[string]any{"bucket": bucket, "digest": info.Digest, "size": info.Size})
	return reply(w, nil)
}

// deleteArtifact deletes an artifact or a whole directory of them.
// Deleting what does not exist succeeds, as on MLflow's server.
func (h *Handler) deleteArtifact(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	key, err := cleanArtifactPath(r.PathValue("path"))
	if err != nil {
		return err
	}
	if err := h.requireArtifact(ctx, key, Manage); err != nil {
		return err
	}
	bucket, err := h.artifactBucket(ctx)
	if err != nil {
		return err
	}
	n, err := h.deleteArtifactTree(ctx, bucket, key)
	if err != nil {
		return objectError(err, bucket)
	}
	if n > 0 {
		h.recordArtifact(r, "mlflow.artifact.delete", key, map[string]any{"bucket": bucket, "objects": n})
	}
	return reply(w, nil)
}

// deleteArtifactTree deletes key and every key below key+"/", returning
// how many objects went.
func (h *Handler) deleteArtifactTree(ctx context.Context, bucket, key string) (int, error) {
	n := 0
	if ok, err := h.objects.Delete(ctx, bucket, key); err != nil {
		return n, err
	} else if ok {
		n++
	}
	prefix := key + "/"
	for {
		// Deleted keys leave the listing, so each page starts over.
		page, err := h.objects.List(ctx, bucket, prefix, "", "", 1000)
		if err != nil {
			return n, err
		}
		for _, o := range page.Objects {
			if ok, err := h.objects.Delete(ctx, bucket, o.Key); err != nil {
				return n, err
			} else if ok {
				n++
			}
		}
		if page.Next == "" {
			return n, nil
		}
	}
}

// fileInfo is MLflow's FileInfo.
type fileInfo struct {
	Path     string `json:"path"`
	IsDir    bool   `json:"is_dir"`
	FileSize *Int64 `json:"file_size,omitempty"`
}

// fileSize is a file's FileInfo.file_size: omitted for an empty file, as
// MLflow's FileInfo.to_proto sets it only when it is not 0.
func fileSize(n int64) *Int64 {
	if n == 0 {
		return nil
	}
	size := Int64(n)
	return &size
}

// listArtifactDir lists the files and directories directly below dir (a
// key, "" for the bucket's root), in path order, each named by rel joined
// with its base name.
func (h *Handler) listArtifactDir(ctx context.Context, bucket, dir, rel string) ([]fileInfo, error) {
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	var files []fileInfo
	after := ""
	for {
		page, err := h.objects.List(ctx, bucket, prefix, "/", after, 1000)
		if err != nil {
			return nil, objectError(err, bucket)
		}
		for _, p := range page.Prefixes {
			if base := strings.TrimSuffix(p[len(prefix):], "/"); base != "" {
				files = append(files, fileInfo{Path: joinArtifactPath(rel, base), IsDir: true})
			}
		}
		for _, o := range page.Objects {
			if base := o.Key[len(prefix):]; base != "" {
				files = append(files, fileInfo{Path: joinArtifactPath(rel, base), FileSize: fileSize(o.Size)})
			}
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	sortFileInfos(files)
	return files, nil
}

// sortFileInfos orders a listing by path, as MLflow's server does (the
// bucket's order puts "a/" and "a.txt" the other way round).
func sortFileInfos(files []fileInfo) {
	slices.SortFunc(files, func(a, b fileInfo) int { return strings.Compare(a.Path, b.Path) })
}

// listArtifacts is GET .../mlflow-artifacts/artifacts?path=<dir>: the
// entries directly below dir, named by their base names.
func (h *Handler) listArtifacts(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	dir, err := cleanListPath(r.URL.Query().Get("path"))
	if err != nil {
		return err
	}
	if err := h.requireArtifact(ctx, dir, Read); err != nil {
		return err
	}
	bucket, err := h.artifactBucket(ctx)
	if err != nil {
		return err
	}
	files, err := h.listArtifactDir(ctx, bucket, dir, "")
	if err != nil {
		return err
	}
	if dir == "" {
		if files, err = h.readableRootEntries(ctx, files); err != nil {
			return err
		}
	}
	return reply(w, struct {
		Files []fileInfo `json:"files,omitempty"`
	}{files})
}

var _ ObjectStore = (*s3api.Objects)(nil)
