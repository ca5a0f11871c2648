package ui

import (
	"encoding/json"
	"strings"
)

// ociDoc is what the manifest page shows of an image manifest, an index or
// an artifact manifest: every field optional.
type ociDoc struct {
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType"`
	Config       *ociDescriptor    `json:"config"`
	Layers       []ociDescriptor   `json:"layers"`
	Manifests    []ociDescriptor   `json:"manifests"`
	Subject      *ociDescriptor    `json:"subject"`
	Annotations  map[string]string `json:"annotations"`
}

type ociDescriptor struct {
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	Platform     *ociPlatform      `json:"platform"`
	Annotations  map[string]string `json:"annotations"`
}

type ociPlatform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant"`
	OSVersion    string `json:"os.version"`
}

// String writes a platform as docker does: linux/arm64/v8.
func (p *ociPlatform) String() string {
	if p == nil {
		return ""
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	if p.OSVersion != "" {
		s += " (" + p.OSVersion + ")"
	}
	return s
}

// ociConfig is what the manifest page shows of an image configuration.
type ociConfig struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant"`
	Created      string `json:"created"`
	Config       struct {
		Entrypoint []string          `json:"Entrypoint"`
		Cmd        []string          `json:"Cmd"`
		Env        []string          `json:"Env"`
		WorkingDir string            `json:"WorkingDir"`
		User       string            `json:"User"`
		Labels     map[string]string `json:"Labels"`
	} `json:"config"`
	History []struct {
		Created    string `json:"created"`
		CreatedBy  string `json:"created_by"`
		EmptyLayer bool   `json:"empty_layer"`
	} `json:"history"`
}

// Command is the image's entrypoint and command as one line.
func (c *ociConfig) Command() string {
	return strings.Join(append(append([]string{}, c.Config.Entrypoint...), c.Config.Cmd...), " ")
}

// parseOCIDoc decodes a stored manifest. Its bytes were validated when it
// was pushed, but the page must not fail on what it does not know.
func parseOCIDoc(b []byte) (*ociDoc, error) {
	var d ociDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// parseOCIConfig decodes an image configuration blob.
func parseOCIConfig(b []byte) (*ociConfig, error) {
	var c ociConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// kindOfManifest names what a manifest is, for people: an index, an
// image, or an artifact (a manifest whose artifact or config type is not
// an image configuration). The registry records an image's config type as
// its artifact type, as the referrers API reports it.
func kindOfManifest(mediaType, artifactType, configType string) string {
	imageConfig := func(t string) bool {
		return t == "" || t == "application/vnd.oci.image.config.v1+json" || t == "application/vnd.docker.container.image.v1+json"
	}
	switch {
	case isIndexType(mediaType):
		return "index"
	case !imageConfig(artifactType), !imageConfig(configType):
		return "artifact"
	}
	return "image"
}
