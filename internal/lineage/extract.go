package lineage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// Links are recorded when artifacts arrive: the composition root
// subscribes Wants to the audit log and enqueues a job per event it
// wants, whose worker calls Extract. Extraction reads what the event's
// surface already stored (rows, and for manifests, image configs and DVC
// files, their bytes), so a job can run any time later, and running it
// twice records nothing twice.

// maxManifest bounds the manifests and image configs read.
const maxManifest = 4 << 20

// Wants reports whether e may carry links, cheaply (it runs on the
// request's goroutine): manifest pushes, registered model versions, run
// inputs and outputs, and S3 objects and raw files at DVC object paths or
// named like .dvc files and dvc.lock.
func Wants(e audit.Event) bool {
	switch e.Action {
	case "oci.manifest.push", "mlflow.model_version.create", "mlflow.run.log_inputs", "mlflow.run.log_outputs":
		return true
	case "s3.put", "s3.replace", "s3.copy", "raw.upload", "raw.replace":
		_, obj := DVCObject(e.Subject)
		return obj || IsDVCFile(e.Subject)
	}
	return false
}

// Extract records the links e's artifact carries and returns how many
// were new. An artifact gone since (deleted before the job ran) has none.
func (s *Service) Extract(ctx context.Context, e audit.Event) (int, error) {
	links, err := s.extract(ctx, e)
	if errs.Is(err, errs.NotFound) || errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	for i := range links {
		links[i].Origin, links[i].CreatedBy = OriginAuto, e.Actor
	}
	return s.store.add(ctx, links)
}

func (s *Service) extract(ctx context.Context, e audit.Event) ([]Link, error) {
	switch e.Action {
	case "oci.manifest.push":
		image, digest, ok := cutLast(e.Subject, "@")
		if !ok {
			return nil, nil
		}
		return s.imageLinks(ctx, e.Repository, image, digest)
	case "mlflow.model_version.create":
		name, v, _ := cutLast(e.Subject, "/")
		return s.modelVersionLinks(ctx, name, v)
	case "mlflow.run.log_inputs", "mlflow.run.log_outputs":
		return s.runLinks(ctx, e.Subject)
	case "s3.put", "s3.replace", "s3.copy":
		digest, _ := e.Detail["digest"].(string)
		return s.objectLinks(ctx, Ref{Kind: KindS3, Repo: e.Repository, Name: e.Subject}, digest)
	case "raw.upload", "raw.replace":
		digest, _ := e.Detail["digest"].(string)
		return s.objectLinks(ctx, Ref{Kind: KindRaw, Repo: e.Repository, Name: e.Subject}, digest)
	}
	return nil, nil
}

// objectLinks: an object at a DVC object path stores that md5; a .dvc
// file or dvc.lock declares the md5s it names, and each dvc.lock stage
// made its outputs from its inputs.
func (s *Service) objectLinks(ctx context.Context, at Ref, digest string) ([]Link, error) {
	var links []Link
	if md5, ok := DVCObject(at.Name); ok {
		links = append(links, Link{From: Ref{Kind: KindDVC, Name: md5}, To: at, Relation: RelStoredAt})
	}
	if !IsDVCFile(at.Name) || digest == "" {
		return links, nil
	}
	b, err := s.read(ctx, digest, maxDVCFile)
	if err != nil {
		return links, err
	}
	stages, err := ParseDVCFile(at.Name, b)
	if err != nil {
		s.log.InfoContext(ctx, "lineage: not a DVC file", "ref", at.String(), "err", err)
		return links, nil
	}
	for _, st := range stages {
		for _, o := range append(append([]DVCOutput{}, st.Deps...), st.Outs...) {
			links = append(links, Link{From: at, To: Ref{Kind: KindDVC, Name: o.MD5}, Relation: RelDeclares})
		}
		for i, d := range st.Deps {
			for j, o := range st.Outs {
				if i < 100 && j < 100 && d.MD5 != o.MD5 {
					links = append(links, Link{From: Ref{Kind: KindDVC, Name: d.MD5}, To: Ref{Kind: KindDVC, Name: o.MD5}, Relation: RelDVCStage})
				}
			}
		}
	}
	return links, nil
}

// read returns a blob's bytes, refusing more than limit.
func (s *Service) read(ctx context.Context, digest string, limit int64) ([]byte, error) {
	d, err := blob.ParseDigest(digest)
	if err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "digest")
	}
	rd, err := s.blobs.Open(ctx, d)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	if rd.Size() > limit {
		return nil, errs.E(errs.TooLarge, "%s is larger than %d bytes", digest, limit)
	}
	return io.ReadAll(io.LimitReader(rd, limit))
}

// imageLinks: the model and data an image (or the subject of a referrer)
// names in its manifest's annotations or its config's labels.
func (s *Service) imageLinks(ctx context.Context, repoName, image, digest string) ([]Link, error) {
	rp, err := s.repos.Get(ctx, repoName)
	if err != nil {
		return nil, err
	}
	var subject, ann string
	err = s.db.QueryRowContext(ctx, `SELECT subject, annotations FROM oci_manifests WHERE repository_id = $1 AND name = $2 AND digest = $3`,
		rp.ID, image, digest).Scan(&subject, &ann)
	if err != nil {
		return nil, meta.Err(err)
	}
	target := Ref{Kind: KindImage, Repo: repoName, Name: image, Digest: digest}
	if subject != "" && validDigest(subject) {
		target.Digest = subject
	}
	var pointers []string
	b, err := s.read(ctx, digest, maxManifest)
	if err != nil {
		return nil, err
	}
	m, err := parseManifest(b)
	if err != nil {
		s.log.InfoContext(ctx, "lineage: manifest not read", "ref", target.String(), "err", err)
		return nil, nil
	}
	pointers = append(pointers, m.pointers(m.Annotations)...)
	if m.Config.Digest != "" && m.Config.Size <= maxManifest && strings.HasSuffix(m.Config.MediaType, "json") {
		cb, err := s.read(ctx, m.Config.Digest, maxManifest)
		switch {
		case errs.Is(err, errs.NotFound):
		case err != nil:
			return nil, err
		default:
			var c imageConfig
			if json.Unmarshal(cb, &c) == nil {
				pointers = append(pointers, m.pointers(c.Config.Labels)...)
			}
		}
	}
	var links []Link
	for _, p := range pointers {
		pt, _ := ParsePointer(p)
		r, ok, err := s.resolvePointer(ctx, pt)
		if err != nil {
			return nil, err
		}
		if ok && r != target {
			links = append(links, Link{From: r, To: target, Relation: RelPackaged})
		}
	}
	return links, nil
}

// manifest is what lineage reads of an OCI manifest.
type manifest struct {
	Config struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int64  `json:"size"`
	} `json:"config"`
	Annotations map[string]string `json:"annotations"`
}

// imageConfig is what lineage reads of an image config: its labels.
type imageConfig struct {
	Config struct {
		Labels map[string]string `json:"Labels"`
	} `json:"config"`
}

func parseManifest(b []byte) (manifest, error) {
	var m manifest
	err := json.Unmarshal(b, &m)
	return m, err
}

// pointers returns the values of the lineage keys among kv that parse.
func (manifest) pointers(kv map[string]string) []string {
	var out []string
	for _, k := range []string{AnnotationModel, AnnotationDataset, AnnotationSource} {
		if v, ok := kv[k]; ok {
			if _, ok := ParsePointer(v); ok {
				out = append(out, v)
			}
		}
	}
	return out
}
