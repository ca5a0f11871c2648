package s3api

import (
	"encoding/xml"
	"net/http"
	"strings"

	"github.com/arcaproject/arca/internal/auth"
)

// getBucketVersioning is GetBucketVersioning: no status until versioning
// was configured, then Enabled or Suspended.
func (h *Handler) getBucketVersioning(w http.ResponseWriter, r *http.Request, q *request) error {
	rp, err := h.bucket(r.Context(), q, auth.Read)
	if err != nil {
		return err
	}
	status, err := h.objects.versioning(r.Context(), rp.ID)
	if err != nil {
		return err
	}
	return writeXML(w, versioningConfiguration{NS: s3NS, Status: status})
}

// parseVersioning reads PutBucketVersioning's body: Status Enabled or
// Suspended. MFA delete is not implemented.
func parseVersioning(body []byte) (string, error) {
	var cfg versioningConfiguration
	if err := decodeXML(strings.NewReader(string(body)), &cfg); err != nil {
		return "", err
	}
	if cfg.MfaDelete != "" && cfg.MfaDelete != "Disabled" {
		return "", notImplemented("MFA delete")
	}
	switch cfg.Status {
	case versioningEnabled, versioningSuspended:
		return cfg.Status, nil
	}
	return "", s3Error("MalformedXML", "the versioning Status must be Enabled or Suspended")
}

// putBucketVersioning is PutBucketVersioning; it needs the admin role on
// the bucket. A bucket once versioned is never unversioned again (S3).
func (h *Handler) putBucketVersioning(w http.ResponseWriter, r *http.Request, q *request) error {
	rp, err := h.bucket(r.Context(), q, auth.Manage)
	if err != nil {
		return err
	}
	body, err := h.readBody(r, q)
	if err != nil {
		return err
	}
	status, err := parseVersioning(body)
	if err != nil {
		return err
	}
	if err := h.objects.setVersioning(r.Context(), rp.ID, status); err != nil {
		return err
	}
	h.record(r, "s3.versioning", rp.Name, "", map[string]any{"status": status})
	w.WriteHeader(http.StatusOK)
	return nil
}

type versionEntry struct {
	XMLName      xml.Name // Version or DeleteMarker
	Key          string   `xml:"Key"`
	VersionID    string   `xml:"VersionId"`
	IsLatest     bool     `xml:"IsLatest"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag,omitempty"`
	Size         *int64   `xml:"Size,omitempty"`
	Owner        owner    `xml:"Owner"`
	StorageClass string   `xml:"StorageClass,omitempty"`
}

type listVersionsResult struct {
	XMLName             xml.Name       `xml:"ListVersionsResult"`
	NS                  string         `xml:"xmlns,attr"`
	Name                string         `xml:"Name"`
	Prefix              string         `xml:"Prefix"`
	KeyMarker           string         `xml:"KeyMarker"`
	VersionIDMarker     string         `xml:"VersionIdMarker"`
	NextKeyMarker       string         `xml:"NextKeyMarker,omitempty"`
	NextVersionIDMarker string         `xml:"NextVersionIdMarker,omitempty"`
	MaxKeys             int            `xml:"MaxKeys"`
	Delimiter           string         `xml:"Delimiter,omitempty"`
	EncodingType        string         `xml:"EncodingType,omitempty"`
	IsTruncated         bool           `xml:"IsTruncated"`
	Entries             []versionEntry // Version and DeleteMarker elements, in order
	CommonPrefixes      []commonPrefix `xml:"CommonPrefixes"`
}

// listObjectVersions is ListObjectVersions: every version and delete
// marker, by key and newest first; an unversioned bucket's objects are
// each their key's null version.
func (h *Handler) listObjectVersions(w http.ResponseWriter, r *http.Request, q *request) error {
	rp, err := h.bucket(r.Context(), q, auth.Read)
	if err != nil {
		return err
	}
	p, err := parseListParams(q, "key-marker")
	if err != nil {
		return err
	}
	vidMarker := q.query.Get("version-id-marker")
	if vidMarker != "" && p.marker == "" {
		return s3Error("InvalidArgument", "a version-id-marker cannot be specified without a key-marker")
	}
	page := versionPage{}
	if p.maxKeys > 0 {
		if page, err = h.objects.listVersions(r.Context(), rp.ID, p.prefix, p.delimiter, p.marker, vidMarker, p.maxKeys); err != nil {
			return err
		}
	}
	res := listVersionsResult{NS: s3NS, Name: rp.Name, Prefix: p.enc(p.prefix), KeyMarker: p.enc(p.marker), VersionIDMarker: vidMarker,
		MaxKeys: p.maxKeys, Delimiter: p.enc(p.delimiter), IsTruncated: page.Truncated}
	if p.encode {
		res.EncodingType = "url"
	}
	for _, v := range page.Versions {
		e := versionEntry{XMLName: xml.Name{Local: "Version"}, Key: p.enc(v.Key), VersionID: vidOut(v.VersionID), IsLatest: v.Latest,
			LastModified: s3Time(v.Modified), Owner: owner{ID: v.CreatedBy, DisplayName: v.CreatedBy}}
		if v.Marker {
			e.XMLName.Local = "DeleteMarker"
		} else {
			size := v.Size
			e.ETag, e.Size, e.StorageClass = quote(v.ETag), &size, "STANDARD"
		}
		res.Entries = append(res.Entries, e)
	}
	for _, cp := range page.Prefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{Prefix: p.enc(cp)})
	}
	if page.Truncated {
		res.NextKeyMarker, res.NextVersionIDMarker = p.enc(page.NextKey), page.NextVersion
	}
	return writeXML(w, res)
}
