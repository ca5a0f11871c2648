package config

// VulnDB configures where vulnerability data comes from (internal/vulndb).
type VulnDB struct {
	// URL is the base of OSV's data exports: <url>/<ecosystem>/all.zip.
	// The default is OSV's public export bucket; a mirror for sites that
	// cannot reach it serves the same layout (or use `arca vulndb import`).
	URL string `yaml:"url"`
	// Ecosystems are the exports `arca vulndb update` downloads.
	Ecosystems []string `yaml:"ecosystems"`
	// Interval between periodic updates (a background job, then a rescan
	// of everything reported); 0 disables them.
	Interval Duration `yaml:"interval"`
}

func defaultVulnDB() VulnDB {
	return VulnDB{URL: "https://osv-vulnerabilities.storage.googleapis.com",
		Ecosystems: []string{"PyPI", "npm", "Maven", "Go", "Debian", "Alpine", "Ubuntu"}}
}

// Scan configures scanning (internal/scan).
type Scan struct {
	// OnPush scans every pushed image manifest, uploaded PyPI file and
	// published npm version (as a background job).
	OnPush bool `yaml:"on_push"`
	// MaxLayerBytes bounds one layer's uncompressed size (default 8 GiB);
	// MaxFiles the files walked in one image (default 2,000,000).
	MaxLayerBytes int64 `yaml:"max_layer_bytes"`
	MaxFiles      int   `yaml:"max_files"`
	// AdapterRegistryURL is the base URL external scanners (Harbor
	// Pluggable Scanner adapters) pull images from; default public_url,
	// else http://localhost:<port of addr>.
	AdapterRegistryURL string `yaml:"adapter_registry_url"`
}
