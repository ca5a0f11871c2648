//go:build !linux

package fs

// renameNoReplace is not offered elsewhere than Linux: every commit makes
// its bytes durable before it renames them over whatever has the name.
func renameNoReplace(from, to string) error { return errNoReplace }
