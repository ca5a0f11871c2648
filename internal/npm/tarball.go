package npm

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
)

// Limits of reading a tarball's package.json. A package tarball is a
// gzipped tar whose entries sit in one top-level directory ("package/" by
// npm's convention); its package.json is usually the first entry.
const (
	maxPackageJSON   = 1 << 20   // bytes of package.json
	maxTarballScan   = 256 << 20 // decompressed bytes read looking for it
	maxTarballHeader = 100000    // entries read looking for it
)

// TarballManifest is what arca reads from a tarball's package.json.
type TarballManifest struct {
	Name    string
	Version string
}

// ReadTarballManifest finds package.json in the top-level directory of a
// gzipped tar and returns its name and version. It reads at most
// maxTarballScan decompressed bytes, so a compression bomb costs a bounded
// amount of work; a tarball without package.json in that span is refused.
func ReadTarballManifest(r io.Reader) (TarballManifest, error) {
	var m TarballManifest
	bad := func(format string, args ...any) (TarballManifest, error) {
		return m, errs.E(errs.Invalid, "invalid package tarball: "+format, args...)
	}
	gz, err := gzip.NewReader(r)
	if err != nil {
		return bad("not gzip-compressed")
	}
	defer gz.Close()
	lr := &io.LimitedReader{R: gz, N: maxTarballScan}
	tr := tar.NewReader(lr)
	for i := 0; i < maxTarballHeader; i++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			return bad("no package.json")
		}
		if err != nil {
			if lr.N <= 0 {
				return bad("no package.json in the first %d MiB", maxTarballScan>>20)
			}
			return bad("%s", tarError(err))
		}
		name := strings.TrimPrefix(hdr.Name, "./")
		dir, file, ok := strings.Cut(name, "/")
		if !ok || dir == "" || file != "package.json" {
			continue
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA {
			return bad("package.json is not a regular file")
		}
		if hdr.Size > maxPackageJSON {
			return bad("package.json is larger than %d bytes", maxPackageJSON)
		}
		b, err := io.ReadAll(io.LimitReader(tr, maxPackageJSON+1))
		if err != nil {
			return bad("%s", tarError(err))
		}
		var pj struct {
			Name    json.RawMessage `json:"name"`
			Version json.RawMessage `json:"version"`
		}
		if err := json.Unmarshal(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), &pj); err != nil {
			return bad("package.json is not a JSON object")
		}
		if json.Unmarshal(pj.Name, &m.Name) != nil || json.Unmarshal(pj.Version, &m.Version) != nil {
			return bad("package.json has no name or version string")
		}
		return m, nil
	}
	return bad("no package.json in the first %d entries", maxTarballHeader)
}

// tarError is a client-safe description of a tar or gzip read failure.
func tarError(err error) string {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated"
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader):
		return "corrupt gzip stream"
	case errors.Is(err, tar.ErrHeader):
		return "corrupt tar header"
	}
	return "unreadable"
}
