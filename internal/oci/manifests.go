package oci

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	godigest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/repo"
)

// Manifest media types arca accepts.
const (
	mediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
)

func isIndex(mt string) bool { return mt == ocispec.MediaTypeImageIndex || mt == mediaTypeDockerList }

func isManifestType(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == mediaTypeDockerManifest || isIndex(mt)
}

// manifestDoc is the union of the fields of image manifests and indexes
// that the registry reads.
type manifestDoc struct {
	SchemaVersion int                  `json:"schemaVersion"`
	MediaType     string               `json:"mediaType"`
	ArtifactType  string               `json:"artifactType"`
	Config        *ocispec.Descriptor  `json:"config"`
	Layers        []ocispec.Descriptor `json:"layers"`
	Manifests     []ocispec.Descriptor `json:"manifests"`
	Subject       *ocispec.Descriptor  `json:"subject"`
	Annotations   map[string]string    `json:"annotations"`
}

// ParseManifest decodes and checks a manifest body sent with content type
// ct. It returns the document and its effective media type.
func ParseManifest(body []byte, ct string) (*manifestDoc, string, error) {
	var m manifestDoc
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, "", errs.E(errs.Invalid, "manifest is not valid JSON: %v", err).WithCode(codeManifestInvalid)
	}
	ct, _, _ = strings.Cut(ct, ";")
	ct = strings.TrimSpace(ct)
	mt := m.MediaType
	switch {
	case mt == "" && ct == "":
		return nil, "", errs.E(errs.Invalid, "manifest has no media type").WithCode(codeManifestInvalid)
	case mt == "":
		mt = ct
	case ct != "" && ct != mt:
		return nil, "", errs.E(errs.Invalid, "Content-Type %q does not match the manifest's mediaType %q", ct, mt).WithCode(codeManifestInvalid)
	}
	if !isManifestType(mt) {
		return nil, "", errs.E(errs.Invalid, "unsupported manifest media type %q", mt).WithCode(codeManifestInvalid)
	}
	if m.SchemaVersion != 2 {
		return nil, "", errs.E(errs.Invalid, "unsupported schemaVersion %d", m.SchemaVersion).WithCode(codeManifestInvalid)
	}
	if isIndex(mt) {
		if m.Config != nil || len(m.Layers) > 0 {
			return nil, "", errs.E(errs.Invalid, "an index has no config or layers").WithCode(codeManifestInvalid)
		}
	} else if m.Config == nil {
		return nil, "", errs.E(errs.Invalid, "image manifest without a config").WithCode(codeManifestInvalid)
	}
	for _, d := range m.descriptors() {
		if _, err := ParseDigest(string(d.Digest)); err != nil {
			return nil, "", errs.E(errs.Invalid, "invalid descriptor digest %q", truncate(string(d.Digest))).WithCode(codeManifestInvalid)
		}
		if d.Size < 0 {
			return nil, "", errs.E(errs.Invalid, "negative descriptor size").WithCode(codeManifestInvalid)
		}
	}
	if m.Subject != nil {
		if _, err := ParseDigest(string(m.Subject.Digest)); err != nil {
			return nil, "", errs.E(errs.Invalid, "invalid subject digest").WithCode(codeManifestInvalid)
		}
	}
	return &m, mt, nil
}

// descriptors lists what the manifest references.
func (m *manifestDoc) descriptors() []ocispec.Descriptor {
	var ds []ocispec.Descriptor
	if m.Config != nil {
		ds = append(ds, *m.Config)
	}
	ds = append(ds, m.Layers...)
	return append(ds, m.Manifests...)
}

// artifactType is what the referrers API reports for the manifest.
func (m *manifestDoc) artifactType() string {
	if m.ArtifactType != "" {
		return m.ArtifactType
	}
	if m.Config != nil {
		return m.Config.MediaType
	}
	return ""
}

// nonDistributable reports whether a layer may be absent from the registry.
func nonDistributable(d ocispec.Descriptor) bool {
	return strings.Contains(d.MediaType, "nondistributable") || strings.Contains(d.MediaType, "foreign") || len(d.URLs) > 0
}

func (h *Handler) putManifest(w http.ResponseWriter, r *http.Request, v vars) error {
	n, err := parseName(v)
	if err != nil {
		return err
	}
	ref := v["reference"]
	var refDigest *Digest
	if IsDigest(ref) {
		d, err := ParseDigest(ref)
		if err != nil {
			return err
		}
		refDigest = &d
	} else if !ValidTag(ref) {
		return errs.E(errs.Invalid, "invalid tag %q", truncate(ref)).WithCode(codeManifestInvalid)
	}
	tags := r.URL.Query()["tag"]
	for _, t := range tags {
		if !ValidTag(t) {
			return errs.E(errs.Invalid, "invalid tag %q", truncate(t)).WithCode(codeManifestInvalid)
		}
	}
	if refDigest == nil {
		tags = append([]string{ref}, tags...)
	}
	rp, err := h.authorize(r, n, auth.Write)
	if err != nil {
		return err
	}
	ctx := r.Context()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxManifestBytes+1))
	if err != nil {
		return &errs.Error{Kind: errs.Invalid, Message: "reading manifest", Code: codeManifestInvalid, Err: err}
	}
	if len(body) > maxManifestBytes {
		return errs.E(errs.TooLarge, "manifest exceeds %d bytes", maxManifestBytes).WithCode(codeSizeInvalid)
	}
	m, mediaType, err := ParseManifest(body, r.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	// Image manifests must only reference content the image has, unless
	// the repository allows sparse manifests; indexes may be sparse (their
	// children need not be here).
	policy, _ := policyOf(rp.Settings)
	var refs []blob.Digest
	for _, d := range m.descriptors() {
		dg, _ := ParseDigest(string(d.Digest))
		b, err := h.store.linkedBlob(ctx, rp.ID, n.Image, dg)
		if err == nil {
			refs = append(refs, b.Digest)
			continue
		}
		if !errs.Is(err, errs.NotFound) {
			return err
		}
		if isIndex(mediaType) {
			if c, err := h.store.manifestByDigest(ctx, rp.ID, n.Image, dg); err == nil {
				refs = append(refs, c.Digest)
			}
			continue
		}
		if !nonDistributable(d) && !(policy.AllowSparse && m.Config != nil && d.Digest != m.Config.Digest) {
			return errs.E(errs.Invalid, "manifest references %s, which %s does not have", dg, n).WithCode(codeManifestBlobUnknown)
		}
	}
	info, err := h.blobs.PutInline(ctx, bytes.NewReader(body), blob.Expect{}, blob.SHA512) // putManifest records Info.Inline
	if err != nil {
		return err
	}
	digest := Digest{Algorithm: "sha256", Hex: info.Digest.Hex()}
	if refDigest != nil {
		if (refDigest.Algorithm == "sha256" && refDigest.Hex != info.Digest.Hex()) || (refDigest.Algorithm == "sha512" && refDigest.Hex != info.SHA512) {
			return errs.E(errs.Invalid, "manifest digest does not match %s", refDigest).WithCode(codeDigestInvalid)
		}
		digest = *refDigest
	}
	if err := h.checkImmutable(ctx, rp, n.Image, tags, info.Digest); err != nil {
		return err
	}
	if err := h.checkQuota(ctx, rp, info.Digest, info.Size); err != nil {
		return err
	}
	row := manifestRow{Digest: info.Digest, PushedAs: pushedAs(digest), MediaType: mediaType, ArtifactType: m.artifactType(), Size: info.Size, Annotations: m.Annotations}
	if m.Subject != nil {
		row.Subject = string(m.Subject.Digest)
	}
	// The event (and the scan and index jobs it calls for) commits with
	// the manifest.
	ev := audit.Event{Action: "oci.manifest.push", Repository: rp.Name, Subject: n.Image + "@" + digest.String(), RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"tags": tags, "media_type": mediaType}}
	var recorded func()
	if err := h.store.putManifest(ctx, rp.ID, n.Image, info, row, refs, tags, func(tx *sql.Tx) { recorded = h.audit.RecordIn(ctx, tx, ev) }); err != nil {
		return err
	}
	recorded()
	hdr := w.Header()
	hdr.Set("Location", location(n, "manifests", digest.String()))
	hdr.Set("Docker-Content-Digest", digest.String())
	if m.Subject != nil {
		hdr.Set("OCI-Subject", string(m.Subject.Digest))
	}
	for _, t := range tags {
		hdr.Add("OCI-Tag", t)
	}
	hdr.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// pushedAs is what manifestRow.PushedAs records for a push by d.
func pushedAs(d Digest) string {
	if d.Algorithm == "sha256" {
		return ""
	}
	return d.String()
}

// findManifest resolves a tag or digest reference.
func (h *Handler) findManifest(ctx context.Context, repoID int64, image, ref string) (manifestRow, Digest, error) {
	if IsDigest(ref) {
		d, err := ParseDigest(ref)
		if err != nil {
			return manifestRow{}, d, err
		}
		m, err := h.store.manifestByDigest(ctx, repoID, image, d)
		return m, d, err
	}
	if !ValidTag(ref) {
		return manifestRow{}, Digest{}, errs.E(errs.Invalid, "invalid tag %q", truncate(ref)).WithCode(codeManifestInvalid)
	}
	m, err := h.store.manifestByTag(ctx, repoID, image, ref)
	if err != nil {
		return m, Digest{}, err
	}
	// A tag answers with the digest the manifest was pushed by.
	if m.PushedAs != "" {
		d, err := ParseDigest(m.PushedAs)
		return m, d, err
	}
	return m, Digest{Algorithm: "sha256", Hex: m.Digest.Hex()}, nil
}

func (h *Handler) getManifest(w http.ResponseWriter, r *http.Request, v vars) error {
	n, rp, err := h.target(r, v, auth.Read)
	if err != nil {
		return err
	}
	src, m, d, err := h.readManifest(r.Context(), rp, n.Image, v["reference"], 0)
	if err != nil {
		return err
	}
	if err := repo.AllowDownload(r.Context(), h.gate, rp, repo.Download{Format: Format, Name: n.Image, Digest: string(m.Digest)}); err != nil {
		return err
	}
	rd, err := h.blobs.Open(r.Context(), m.Digest)
	if err != nil {
		return errs.Wrap(err, errs.Internal, "manifest %s has metadata but no content", m.Digest)
	}
	defer rd.Close()
	hdr := w.Header()
	hdr.Set("Content-Type", m.MediaType)
	hdr.Set("Docker-Content-Digest", d.String())
	hdr.Set("ETag", `"`+d.String()+`"`)
	hdr.Set("Content-Length", strconv.FormatInt(m.Size, 10))
	if r.Method == http.MethodHead {
		return nil
	}
	if src != nil && src.Kind == repo.Hosted {
		h.downloads.Touch(src.ID, n.Image+"@"+m.Digest.String())
	}
	io.Copy(w, rd.Content())
	return nil
}

func (h *Handler) deleteManifest(w http.ResponseWriter, r *http.Request, v vars) error {
	n, rp, err := h.target(r, v, auth.Delete)
	if err != nil {
		return err
	}
	ref := v["reference"]
	ctx := r.Context()
	if IsDigest(ref) {
		m, d, err := h.findManifest(ctx, rp.ID, n.Image, ref)
		if err != nil {
			return err
		}
		if err := h.checkNoImmutableTag(ctx, rp, n.Image, m.Digest); err != nil {
			return err
		}
		if err := h.store.deleteManifest(ctx, rp.ID, n.Image, m.Digest); err != nil {
			return err
		}
		h.audit.Record(ctx, audit.Event{Action: "oci.manifest.delete", Repository: rp.Name, Subject: n.Image + "@" + d.String(), RemoteAddr: r.RemoteAddr})
	} else {
		if !ValidTag(ref) {
			return errs.E(errs.Invalid, "invalid tag %q", truncate(ref)).WithCode(codeManifestInvalid)
		}
		if p, _ := policyOf(rp.Settings); matchAny(p.ImmutableTags, ref) {
			return errs.E(errs.Denied, "tag %s:%s is immutable", n.Image, ref).WithCode(codeDenied)
		}
		if err := h.store.deleteTag(ctx, rp.ID, n.Image, ref); err != nil {
			return err
		}
		h.audit.Record(ctx, audit.Event{Action: "oci.tag.delete", Repository: rp.Name, Subject: n.Image + ":" + ref, RemoteAddr: r.RemoteAddr})
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// pageParams reads the n and last parameters of tag and catalog listings.
// n is clamped to 10000; n=0 is valid and asks for an empty page. paged
// says whether the client asked for pages (and so gets Link headers).
func pageParams(q url.Values) (n int, last string, paged bool, err error) {
	last = q.Get("last")
	if v := q.Get("n"); v != "" {
		n, err = strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, "", false, errs.E(errs.Invalid, "invalid n %q", truncate(v)).WithCode("PAGINATION_NUMBER_INVALID")
		}
		return min(n, 10000), last, true, nil
	}
	return 10000, last, false, nil
}

// cutPage trims a listing read with one item of look-ahead to limit
// items; more says whether items were left out. With limit 0 the page is
// empty and nothing names where a next page would start, so more is false.
func cutPage(items []string, limit int) (page []string, more bool) {
	if limit <= 0 {
		return []string{}, false
	}
	if len(items) > limit {
		return items[:limit], true
	}
	if items == nil {
		items = []string{}
	}
	return items, false
}

// nextLink is the RFC 5988 Link header of the next page.
func nextLink(path string, n int, last string) string {
	return "<" + path + "?n=" + strconv.Itoa(n) + "&last=" + url.QueryEscape(last) + `>; rel="next"`
}

func (h *Handler) listTags(w http.ResponseWriter, r *http.Request, v vars) error {
	n, rp, err := h.target(r, v, auth.Read)
	if err != nil {
		return err
	}
	limit, last, paged, err := pageParams(r.URL.Query())
	if err != nil {
		return err
	}
	// Read even for n=0, so that an unknown name is still an error.
	tags, err := h.readTags(r.Context(), rp, n.Image, last, limit+1, 0)
	if err != nil {
		return err
	}
	tags, more := cutPage(tags, limit)
	if more && paged {
		w.Header().Set("Link", nextLink("/v2/"+n.String()+"/tags/list", limit, tags[len(tags)-1]))
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"name": n.String(), "tags": tags})
}

// catalog lists the images in repositories the caller may read.
func (h *Handler) catalog(w http.ResponseWriter, r *http.Request, _ vars) error {
	ctx := r.Context()
	grants, scoped := tokenGrants(ctx)
	if auth.From(ctx).Anonymous() && !scoped {
		return errs.E(errs.Unauthenticated, "authentication required")
	}
	// A registry token lists the catalog only when it grants it (as the
	// token service does on registry:catalog:*): a token made for one
	// repository, such as an external scanner's, names nothing else.
	if scoped && !auth.From(ctx).Anonymous() && !auth.Allows(grants, "registry", "catalog", "*") {
		return errs.E(errs.Unauthenticated, "token does not grant the catalog")
	}
	limit, last, paged, err := pageParams(r.URL.Query())
	if err != nil {
		return err
	}
	if limit == 0 {
		return httpx.WriteJSON(w, http.StatusOK, map[string]any{"repositories": []string{}})
	}
	all, err := h.store.images(ctx, last)
	if err != nil {
		return err
	}
	readable := map[string]bool{}
	names := []string{}
	for _, img := range all {
		repoName, _, _ := strings.Cut(img, "/")
		ok, seen := readable[repoName]
		if !seen {
			rp, err := h.repos.Get(ctx, repoName)
			ok = err == nil && h.auth.Authorize(ctx, auth.From(ctx), rp, auth.Read) == nil
			readable[repoName] = ok
		}
		if ok {
			names = append(names, img)
		}
		if len(names) > limit {
			break
		}
	}
	names, more := cutPage(names, limit)
	if more && paged {
		w.Header().Set("Link", nextLink("/v2/_catalog", limit, names[len(names)-1]))
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"repositories": names})
}

func (h *Handler) referrers(w http.ResponseWriter, r *http.Request, v vars) error {
	n, err := parseName(v)
	if err != nil {
		return err
	}
	d, err := ParseDigest(v["digest"])
	if err != nil {
		return err
	}
	rp, err := h.authorize(r, n, auth.Read)
	if err != nil {
		return err
	}
	var rows []manifestRow
	for _, src := range append([]*repo.Repository{rp}, h.readableMembers(r.Context(), rp, 0)...) {
		more, err := h.store.referrers(r.Context(), src.ID, n.Image, d.String())
		if err != nil {
			return err
		}
		rows = append(rows, more...)
	}
	filter := r.URL.Query().Get("artifactType")
	descs := []ocispec.Descriptor{}
	for _, m := range rows {
		if filter != "" && m.ArtifactType != filter {
			continue
		}
		descs = append(descs, ocispec.Descriptor{MediaType: m.MediaType, Digest: godigest.Digest(m.Digest), Size: m.Size,
			ArtifactType: m.ArtifactType, Annotations: m.Annotations})
	}
	slices.SortFunc(descs, func(a, b ocispec.Descriptor) int { return strings.Compare(string(a.Digest), string(b.Digest)) })
	if filter != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
	w.WriteHeader(http.StatusOK)
	return json.NewEncoder(w).Encode(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: descs,
	})
}
