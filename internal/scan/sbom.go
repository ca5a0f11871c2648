package scan

import (
	"bytes"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/arcaproject/arca/internal/version"
	"github.com/arcaproject/arca/internal/vulndb"
)

// SBOM media and artifact type: CycloneDX JSON, which `oras discover`
// lists and SBOM tools (grype, trivy, dependency-track) read.
const SBOMType = "application/vnd.cyclonedx+json"

// cycloneDX renders components as a CycloneDX 1.5 JSON document with
// github.com/CycloneDX/cyclonedx-go; subject names what they were found in.
func cycloneDX(subject, subjectVersion string, comps []vulndb.Component) ([]byte, error) {
	bom := cdx.NewBOM()
	bom.Metadata = &cdx.Metadata{
		Timestamp: time.Now().UTC().Format(time.RFC3339),
		Tools:     &cdx.ToolsChoice{Components: &[]cdx.Component{{Type: cdx.ComponentTypeApplication, Name: "arca", Version: version.String()}}},
		Component: &cdx.Component{Type: cdx.ComponentTypeContainer, Name: subject, Version: subjectVersion,
			BOMRef: "subject"},
	}
	list := make([]cdx.Component, 0, len(comps))
	byName := map[string]string{}
	for _, c := range comps {
		byName[c.Ecosystem+"\x00"+c.Name] = c.PURL
	}
	var deps []cdx.Dependency
	for _, c := range comps {
		props := []cdx.Property{{Name: "arca:ecosystem", Value: c.Ecosystem}}
		if c.Path != "" {
			props = append(props, cdx.Property{Name: "arca:path", Value: c.Path})
		}
		if c.Source != "" {
			props = append(props, cdx.Property{Name: "arca:source", Value: c.Source})
		}
		list = append(list, cdx.Component{BOMRef: c.PURL, Type: cdx.ComponentTypeLibrary, Name: c.Name, Version: c.Version,
			PackageURL: c.PURL, Properties: &props})
		var on []string
		for _, d := range c.Dependencies {
			if ref, ok := byName[c.Ecosystem+"\x00"+d]; ok {
				on = append(on, ref)
			}
		}
		if len(on) > 0 {
			deps = append(deps, cdx.Dependency{Ref: c.PURL, Dependencies: &on})
		}
	}
	bom.Components = &list
	if len(deps) > 0 {
		bom.Dependencies = &deps
	}
	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_5); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
