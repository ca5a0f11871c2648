package lineage

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
)

// Pointers: how the artifacts arca already stores name others. Each parser
// reads untrusted text (annotations, labels, MLflow sources) and answers
// ok=false for what it does not recognise.

// Annotation keys (OCI manifest annotations, or image config labels) that
// name what an image was built from. Their values are read by ParsePointer.
const (
	// AnnotationModel names the model an image serves:
	// models:/<name>/<version>, models:/<name>@<alias>, models:/m-<id>,
	// runs:/<run id>[/path], or a lineage ref.
	AnnotationModel = "dev.arca.model"
	// AnnotationDataset names data an image was built from or carries:
	// s3://<bucket>/<key>, a lineage ref (dataset:, dvc-md5:, s3:, raw:).
	AnnotationDataset = "dev.arca.dataset"
	// AnnotationSource is the OCI standard annotation; its value counts
	// when it is one of the pointers above (usually it is a git URL, which
	// is not a node of the graph and is left alone).
	AnnotationSource = "org.opencontainers.image.source"
)

// Pointer is what a pointer names: a ref, or a registered model's alias
// (Alias set, Ref.Name the model) that the caller resolves to a version.
type Pointer struct {
	Ref   Ref
	Alias string
}

// ParsePointer reads a URI or ref that names an artifact: MLflow's
// models:/ and runs:/ URIs, s3:// URIs, and lineage refs.
func ParsePointer(s string) (Pointer, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxRef || !printable(s) {
		return Pointer{}, false
	}
	switch {
	case strings.HasPrefix(s, "models:/"):
		return parseModelsURI(strings.TrimPrefix(s, "models:/"))
	case strings.HasPrefix(s, "runs:/"):
		id, _, _ := strings.Cut(strings.TrimPrefix(s, "runs:/"), "/")
		if !validID(id) {
			return Pointer{}, false
		}
		return Pointer{Ref: Ref{Kind: KindRun, Name: id}}, true
	case strings.HasPrefix(s, "s3://"):
		bucket, key, ok := strings.Cut(strings.TrimPrefix(s, "s3://"), "/")
		if !ok || !validSegment(bucket) || key == "" {
			return Pointer{}, false
		}
		return Pointer{Ref: Ref{Kind: KindS3, Repo: bucket, Name: key}}, true
	}
	r, err := ParseRef(s)
	if err != nil {
		return Pointer{}, false
	}
	return Pointer{Ref: r}, true
}

// parseModelsURI reads what follows models:/ — m-<id> (a logged model),
// <name>/<version>, or <name>@<alias>. Stages (<name>/Production) are
// MLflow's deprecated aliases and are read as aliases.
func parseModelsURI(rest string) (Pointer, bool) {
	rest = strings.TrimSuffix(rest, "/")
	if strings.HasPrefix(rest, "m-") && validID(rest) {
		return Pointer{Ref: Ref{Kind: KindLoggedModel, Name: rest}}, true
	}
	if name, alias, ok := cutLast(rest, "@"); ok {
		if name == "" || alias == "" || strings.Contains(alias, "/") {
			return Pointer{}, false
		}
		return Pointer{Ref: Ref{Kind: KindModelVersion, Name: name}, Alias: alias}, true
	}
	name, v, ok := cutLast(rest, "/")
	if !ok || name == "" || v == "" {
		return Pointer{}, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 1 {
			return Pointer{}, false
		}
		return Pointer{Ref: Ref{Kind: KindModelVersion, Name: name, Version: n}}, true
	}
	if validTag(v) {
		return Pointer{Ref: Ref{Kind: KindModelVersion, Name: name}, Alias: v}, true
	}
	return Pointer{}, false
}

// ParseDatasetSource reads an MLflow dataset's source (a JSON object, as
// the client's DatasetSource.to_json writes it: {"uri": ...} for artifact
// stores such as S3, {"url": ...} for HTTP) and returns the arca node it
// names: an S3 object, or a raw file when the URL's path is /raw/<repo>/...
// on any host (the raw surface's own layout). Digests and sources of
// other kinds (Delta tables, Hugging Face) are not arca's nodes.
func ParseDatasetSource(source string) (Ref, bool) {
	if len(source) > 64<<10 {
		return Ref{}, false
	}
	var src struct {
		URI string `json:"uri"`
		URL string `json:"url"`
	}
	if json.Unmarshal([]byte(source), &src) != nil {
		src.URI = source // some clients store the bare URI
	}
	for _, s := range []string{src.URI, src.URL} {
		if s == "" {
			continue
		}
		if p, ok := ParsePointer(s); ok && p.Alias == "" && (p.Ref.Kind == KindS3 || p.Ref.Kind == KindRaw || p.Ref.Kind == KindDVC) {
			return p.Ref, true
		}
		if u, err := url.Parse(s); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			if rest, ok := strings.CutPrefix(u.Path, "/raw/"); ok {
				if repo, path, ok := strings.Cut(rest, "/"); ok && validSegment(repo) && validPath(path) {
					return Ref{Kind: KindRaw, Repo: repo, Name: path}, true
				}
			}
		}
	}
	return Ref{}, false
}
