package oci

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"time"

	godigest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// Referrer is an artifact arca itself attaches to a manifest (an SBOM):
// one layer of content, typed artifactType.
type Referrer struct {
	ArtifactType string
	MediaType    string // of the layer
	Content      []byte
	Annotations  map[string]string
}

// PushReferrer stores ref as an OCI artifact manifest whose subject is
// the image's manifest subject, by the same store path as a client's push:
// the empty config and the layer recorded and linked (gc.Record), then the
// manifest with its references in one transaction; it is audited as
// oci.manifest.push (with the artifact type in the detail). It needs no
// permission: callers are arca's own background work. It returns the
// artifact manifest's digest.
func (h *Handler) PushReferrer(ctx context.Context, rp *repo.Repository, image string, subject blob.Digest, ref Referrer) (blob.Digest, error) {
	if rp.Format != Format || rp.Kind != repo.Hosted {
		return "", errs.E(errs.Invalid, "referrers are pushed to hosted OCI repositories only")
	}
	sm, err := h.store.manifestByDigest(ctx, rp.ID, image, Digest{Algorithm: "sha256", Hex: subject.Hex()})
	if err != nil {
		return "", err
	}
	put := func(b []byte) (blob.Info, error) {
		info, err := h.blobs.Put(ctx, bytes.NewReader(b), blob.Expect{}, 0)
		if err != nil {
			return info, err
		}
		return info, h.store.recordAndLink(ctx, rp.ID, image, info)
	}
	cfg, err := put(ocispec.DescriptorEmptyJSON.Data)
	if err != nil {
		return "", err
	}
	layer, err := put(ref.Content)
	if err != nil {
		return "", err
	}
	ann := map[string]string{ocispec.AnnotationCreated: time.Now().UTC().Format(time.RFC3339)}
	for k, v := range ref.Annotations {
		ann[k] = v
	}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ref.ArtifactType,
		Config:       ocispec.Descriptor{MediaType: ocispec.MediaTypeEmptyJSON, Digest: ocispec.DescriptorEmptyJSON.Digest, Size: cfg.Size},
		Layers:       []ocispec.Descriptor{{MediaType: ref.MediaType, Digest: ocispecDigest(layer.Digest), Size: layer.Size}},
		Subject:      &ocispec.Descriptor{MediaType: sm.MediaType, Digest: ocispecDigest(sm.Digest), Size: sm.Size},
		Annotations:  ann,
	}
	body, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	info, err := h.blobs.PutInline(ctx, bytes.NewReader(body), blob.Expect{}, blob.SHA512) // putManifest records Info.Inline
	if err != nil {
		return "", err
	}
	row := manifestRow{Digest: info.Digest, MediaType: m.MediaType, ArtifactType: m.ArtifactType, Subject: string(sm.Digest),
		Size: info.Size, Annotations: ann}
	ev := audit.Event{Actor: "arca", Action: "oci.manifest.push", Repository: rp.Name, Subject: image + "@" + string(info.Digest),
		Detail: map[string]any{"media_type": m.MediaType, "artifact_type": m.ArtifactType, "subject": string(sm.Digest)}}
	var recorded func()
	if err := h.store.putManifest(ctx, rp.ID, image, info, row, []blob.Digest{cfg.Digest, layer.Digest}, nil,
		func(tx *sql.Tx) { recorded = h.audit.RecordIn(ctx, tx, ev) }); err != nil {
		return "", err
	}
	recorded()
	return info.Digest, nil
}

// HasReferrer reports whether the image has a referrer of subject with
// the artifact type.
func (h *Handler) HasReferrer(ctx context.Context, rp *repo.Repository, image string, subject blob.Digest, artifactType string) (bool, error) {
	rows, err := h.store.referrers(ctx, rp.ID, image, string(subject))
	if err != nil {
		return false, err
	}
	for _, r := range rows {
		if r.ArtifactType == artifactType {
			return true, nil
		}
	}
	return false, nil
}

func ocispecDigest(d blob.Digest) godigest.Digest { return godigest.Digest(d) }
