package pypi

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strings"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// Limits on the upload form besides the file: every other field together,
// and the number of parts.
const (
	maxFormFieldBytes = 16 << 20
	maxFormParts      = 5000
	// spoolMemory is how much of an uploaded file is held in memory for
	// validation before the rest goes to a temporary file.
	spoolMemory = 16 << 20
)

// Form is the legacy upload API's form, apart from the file itself.
type Form struct {
	Fields map[string][]string
	// Filename is the name the content part carries.
	Filename string
}

// Get returns a field's first value.
func (f *Form) Get(name string) string {
	if v := f.Fields[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// ReadUploadForm reads a multipart upload form. It calls content with the
// "content" part, which it must consume, when it reaches it; every other
// field is collected, within the limits on their count and size.
func ReadUploadForm(r *http.Request, content func(filename string, body io.Reader) error) (*Form, error) {
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "multipart/form-data" || params["boundary"] == "" {
		return nil, errs.E(errs.Invalid, "an upload is a multipart/form-data POST (use twine)")
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	form := &Form{Fields: map[string][]string{}}
	left := int64(maxFormFieldBytes)
	sawContent := false
	for n := 0; ; n++ {
		if n >= maxFormParts {
			return nil, errs.E(errs.Invalid, "upload form has more than %d parts", maxFormParts)
		}
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, formError(err)
		}
		name := part.FormName()
		if name == "content" {
			if sawContent {
				return nil, errs.E(errs.Invalid, "upload form has more than one content part")
			}
			sawContent = true
			form.Filename = part.FileName()
			if form.Filename == "" {
				return nil, errs.E(errs.Invalid, "the content part names no file")
			}
			if err := content(form.Filename, part); err != nil {
				return nil, err
			}
			continue
		}
		b, err := io.ReadAll(io.LimitReader(part, left+1))
		if err != nil {
			return nil, formError(err)
		}
		left -= int64(len(b))
		if left < 0 {
			return nil, errs.E(errs.TooLarge, "upload form fields exceed %d bytes", maxFormFieldBytes)
		}
		form.Fields[name] = append(form.Fields[name], string(b))
	}
	if !sawContent {
		return nil, errs.E(errs.Invalid, "upload form has no content part (the file)")
	}
	return form, nil
}

func formError(err error) error {
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	return errs.Wrap(err, errs.Invalid, "malformed upload form: %v", err)
}

// spool keeps an uploaded file for validation: in memory up to a limit,
// then in a temporary file.
type spool struct {
	buf  bytes.Buffer
	file *os.File
	size int64
}

func (s *spool) Write(p []byte) (int, error) {
	s.size += int64(len(p))
	if s.file == nil && s.buf.Len()+len(p) <= spoolMemory {
		return s.buf.Write(p)
	}
	if s.file == nil {
		f, err := os.CreateTemp("", "arca-pypi-upload-*")
		if err != nil {
			return 0, errs.Wrap(err, errs.Unavailable, "creating a temporary file")
		}
		s.file = f
		if _, err := f.Write(s.buf.Bytes()); err != nil {
			return 0, errs.Wrap(err, errs.Unavailable, "writing a temporary file")
		}
		s.buf = bytes.Buffer{}
	}
	n, err := s.file.Write(p)
	if err != nil {
		return n, errs.Wrap(err, errs.Unavailable, "writing a temporary file")
	}
	return n, nil
}

func (s *spool) readerAt() io.ReaderAt {
	if s.file != nil {
		return s.file
	}
	return bytes.NewReader(s.buf.Bytes())
}

func (s *spool) close() {
	if s.file != nil {
		s.file.Close()
		os.Remove(s.file.Name())
	}
}

// limitReader fails with errs.TooLarge once more than left bytes are read.
type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, errs.E(errs.TooLarge, "file exceeds the upload limit")
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, errs.E(errs.TooLarge, "file exceeds the upload limit")
	}
	return n, err
}

// upload answers POST /pypi/<repo>/ — twine's upload:
//
//  1. the form is read; the file streams into a staged blob write and a
//     spool, hashed on the way;
//  2. the form's name and version must be valid and agree with the file
//     name, and the declared sha256 (and md5) with the bytes;
//  3. the archive's core metadata (a wheel's METADATA, an sdist's
//     PKG-INFO) must agree too; a wheel's METADATA becomes its own blob;
//  4. only then is the blob committed and the file recorded, in one
//     transaction; a file name already present is a conflict unless the
//     repository allows redeploy.
func (h *Handler) upload(w http.ResponseWriter, r *http.Request) error {
	rp, settings, err := h.repository(r, auth.Write)
	if err != nil {
		return err
	}
	ctx := r.Context()
	var (
		bw *blob.Writer
		sp spool
		fn Filename
	)
	defer func() {
		if bw != nil {
			bw.Cancel(context.WithoutCancel(ctx))
		}
		sp.close()
	}()
	form, err := ReadUploadForm(r, func(filename string, body io.Reader) error {
		if err := checkFilename(filename); err != nil {
			return err
		}
		if !strings.HasSuffix(filename, ".whl") && !strings.HasSuffix(filename, ".tar.gz") && !strings.HasSuffix(filename, ".zip") {
			return errs.E(errs.Invalid, "unsupported file %q: upload wheels (.whl) and sdists (.tar.gz, .zip)", filename)
		}
		if h.maxUpload > 0 {
			body = &limitReader{r: body, left: h.maxUpload}
		}
		var err error
		if bw, err = h.blobs.Create(ctx, blob.MD5); err != nil {
			return err
		}
		if _, err := io.Copy(io.MultiWriter(bw, &sp), body); err != nil {
			var e *errs.Error
			if errors.As(err, &e) {
				return err
			}
			return errs.Wrap(err, errs.Invalid, "reading the uploaded file failed")
		}
		return nil
	})
	if err != nil {
		return err
	}
	if action := form.Get(":action"); action != "file_upload" {
		return errs.E(errs.Invalid, "unsupported :action %q: only file_upload is supported", action)
	}
	name, version := strings.TrimSpace(form.Get("name")), strings.TrimSpace(form.Get("version"))
	if err := ValidName(name); err != nil {
		return err
	}
	ver, err := ParseVersion(version)
	if err != nil {
		return err
	}
	project := Normalize(name)
	if fn, err = ParseFilename(form.Filename, project); err != nil {
		return err
	}
	if fn.Project != project {
		return errs.E(errs.Invalid, "file name %s is not of project %s (the form's name)", form.Filename, name)
	}
	// PEP 440 equality: 1.0 and 1.0.0 are one version.
	if CompareVersions(fn.Version, ver) != 0 {
		return errs.E(errs.Invalid, "file name %s says version %s, the form says %s", form.Filename, fn.Version, version)
	}
	if ft := form.Get("filetype"); ft != "" && ft != fn.Type {
		return errs.E(errs.Invalid, "filetype %q does not match file %s (a %s)", ft, form.Filename, fn.Type)
	}
	want, err := declaredDigests(form)
	if err != nil {
		return err
	}
	if want.Digest != "" && want.Digest != bw.Digest() {
		return errs.E(errs.Invalid, "sha256_digest does not match the uploaded file: declared %s, received %s", want.Digest.Hex(), bw.Digest().Hex())
	}
	exists, err := h.store.fileExists(ctx, rp.ID, form.Filename)
	if err != nil {
		return err
	}
	if exists {
		if !settings.AllowRedeploy {
			return errs.E(errs.Conflict, "File already exists: %s is in repository %s, and it does not allow redeploy", form.Filename, rp.Name)
		}
		if err := h.auth.Authorize(ctx, auth.From(ctx), rp, auth.Delete); err != nil {
			return errs.E(errs.KindOf(err), "file %s exists; replacing it needs the maintainer role", form.Filename)
		}
	}

	_, err = h.keep(ctx, rp, &bw, &sp, received{filename: form.Filename, fn: fn, version: ver, want: want,
		pyversion: form.Get("pyversion"), replaceable: exists && settings.AllowRedeploy, createdAt: meta.Now(),
		formName: name, formVersion: version, remoteAddr: r.RemoteAddr})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, err = io.WriteString(w, "OK: "+form.Filename+" uploaded to "+rp.Name+"\n")
	return err
}

// received is a file whose bytes are staged (and spooled), with what its
// uploader declares of it.
type received struct {
	filename    string
	fn          Filename
	version     Version
	want        blob.Expect
	pyversion   string
	replaceable bool  // an existing file of the name may be replaced
	createdAt   int64 // the upload time recorded
	yanked      bool
	yankReason  string
	formName    string // the name and version the uploader gave; "" to take the file name's
	formVersion string
	remoteAddr  string
	action      string // the audit action; "" means pypi.upload (pypi.replace)
}

// keep checks a received file against its own core metadata (a wheel's
// METADATA, an sdist's PKG-INFO), commits its blob (verified against
// what was declared), stores a wheel's METADATA as a blob of its own and
// records the file, in one transaction, and audits it. It is the end of
// every way a file enters a hosted repository (twine's upload, imports).
// *bw is set to nil once committed.
func (h *Handler) keep(ctx context.Context, rp *repo.Repository, bw **blob.Writer, sp *spool, in received) (replaced bool, err error) {
	fn, project := in.fn, in.fn.Project
	name, version := in.formName, in.formVersion
	if name == "" {
		name, version = fn.Name, in.version.String()
	}
	if err := h.quota.Check(ctx, rp, string((*bw).Digest()), sp.size); err != nil {
		return false, err
	}

	// The archive's own metadata must agree with the form.
	var metaBytes []byte
	var md *Metadata
	if fn.Type == Wheel {
		metaBytes, md, err = WheelMetadata(sp.readerAt(), sp.size)
	} else {
		_, md, err = SdistMetadata(sp.readerAt(), sp.size, fn.Ext)
	}
	if err != nil {
		return false, err
	}
	if Normalize(md.Get("name")) != project {
		return false, errs.E(errs.Invalid, "the file's metadata names project %q, the form %q", md.Get("name"), name)
	}
	if mv, _ := ParseVersion(md.Get("version")); CompareVersions(mv, in.version) != 0 {
		return false, errs.E(errs.Invalid, "the file's metadata says version %s, the form %s", md.Get("version"), version)
	}

	info, err := (*bw).Commit(ctx, in.want)
	*bw = nil
	if err != nil {
		if errs.CodeOf(err) == "DIGEST_INVALID" {
			return false, errs.E(errs.Invalid, "md5_digest or sha256_digest does not match the uploaded file: %s", errs.Message(err))
		}
		return false, err
	}
	row := fileRow{Project: project, Filename: in.filename, Name: md.Get("name"), Version: in.version.String(), Type: fn.Type,
		PythonVersion: in.pyversion, RequiresPython: md.Get("requires-python"), Digest: string(info.Digest),
		Size: info.Size, Metadata: metadataJSON(md), UploadedBy: auth.From(ctx).String(), CreatedAt: in.createdAt,
		Yanked: in.yanked, YankedReason: in.yankReason}
	if row.PythonVersion == "" {
		row.PythonVersion = fn.Python
		if fn.Type == Sdist {
			row.PythonVersion = "source"
		}
	}
	u := upload{row: row, md5: info.MD5, replaceable: in.replaceable}
	if metaBytes != nil {
		mi, err := h.blobs.Put(ctx, bytes.NewReader(metaBytes), blob.Expect{}, 0)
		if err != nil {
			return false, err
		}
		u.row.MetadataDigest, u.metaSize = string(mi.Digest), mi.Size
	}
	replaced, err = h.store.putFile(ctx, rp.ID, u)
	if err != nil {
		return false, err
	}
	action := in.action
	switch {
	case action != "":
	case replaced:
		action = "pypi.replace"
	default:
		action = "pypi.upload"
	}
	h.audit.Record(ctx, audit.Event{Action: action, Repository: rp.Name, Subject: project + "/" + in.filename, RemoteAddr: in.remoteAddr,
		Detail: map[string]any{"digest": info.Digest, "size": info.Size, "version": in.version.String()}})
	return replaced, nil
}

// declaredDigests reads sha256_digest and md5_digest (hex) from the form.
func declaredDigests(form *Form) (blob.Expect, error) {
	var want blob.Expect
	if v := strings.ToLower(strings.TrimSpace(form.Get("sha256_digest"))); v != "" {
		d, err := blob.ParseDigest("sha256:" + v)
		if err != nil {
			return want, errs.E(errs.Invalid, "sha256_digest %q is not 64 hex characters", truncate(v, 80))
		}
		want.Digest = d
	}
	if v := strings.ToLower(strings.TrimSpace(form.Get("md5_digest"))); v != "" {
		if b, err := hex.DecodeString(v); err != nil || len(b) != 16 {
			// twine sent base64url md5 digests in old versions; accept only hex.
			return want, errs.E(errs.Invalid, "md5_digest %q is not 32 hex characters", truncate(v, 80))
		}
		want.MD5 = v
	}
	if want.Digest == "" && want.MD5 == "" {
		return want, errs.E(errs.Invalid, "the upload declares no sha256_digest or md5_digest")
	}
	return want, nil
}

// metadataJSON keeps the core metadata fields for the JSON API, with the
// long description under "description".
func metadataJSON(m *Metadata) string {
	fields := make(map[string][]string, len(m.Fields)+1)
	for k, v := range m.Fields {
		fields[k] = v
	}
	if d := m.Description(); d != "" {
		fields["description"] = []string{d}
	}
	b, _ := json.Marshal(fields)
	return string(b)
}
