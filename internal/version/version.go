// Package version reports which arca this is.
package version

import "runtime/debug"

// String returns the module version arca was built as (a tag when built
// with `go install ...@vX`), or "dev" with the VCS revision when known.
func String() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "dev-" + s.Value[:12]
		}
	}
	return "dev"
}
