package pypi

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"errors"
	"io"
	"path"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
)

// Limits on reading archives that clients upload. They bound the work and
// memory a malicious archive (a zip bomb, a gzip bomb, millions of entries)
// can cost.
const (
	maxArchiveEntries   = 200000
	maxSdistScanBytes   = 1 << 30 // decompressed bytes read looking for PKG-INFO
	maxArchiveNameBytes = 4096
)

// WheelMetadata finds the core metadata of a wheel: the single
// {name}-{version}.dist-info/METADATA at the top of the archive. It
// returns the file's bytes exactly (as PEP 658 serves them) and their
// parse. The archive is read through r, which holds size bytes.
func WheelMetadata(r io.ReaderAt, size int64) ([]byte, *Metadata, error) {
	zr, err := zip.NewReader(r, size)
	if errors.Is(err, zip.ErrInsecurePath) {
		return nil, nil, errs.E(errs.Invalid, "malformed wheel: it holds a file with an unsafe path (absolute, or with ..)")
	}
	if err != nil {
		return nil, nil, errs.Wrap(err, errs.Invalid, "malformed wheel: not a valid zip archive")
	}
	if len(zr.File) > maxArchiveEntries {
		return nil, nil, errs.E(errs.Invalid, "malformed wheel: more than %d entries", maxArchiveEntries)
	}
	var found *zip.File
	distInfo := 0
	for _, f := range zr.File {
		if !safePath(f.Name) {
			return nil, nil, errs.E(errs.Invalid, "malformed wheel: it holds a file with an unsafe path (absolute, or with ..)")
		}
		dir, base := path.Split(f.Name)
		if base != "METADATA" || strings.Count(dir, "/") != 1 || !strings.HasSuffix(dir, ".dist-info/") {
			continue
		}
		distInfo++
		found = f
	}
	switch {
	case distInfo == 0:
		return nil, nil, errs.E(errs.Invalid, "malformed wheel: no {name}-{version}.dist-info/METADATA in it")
	case distInfo > 1:
		return nil, nil, errs.E(errs.Invalid, "malformed wheel: more than one .dist-info/METADATA in it")
	}
	if found.UncompressedSize64 > maxMetadataBytes {
		return nil, nil, errs.E(errs.TooLarge, "wheel METADATA is larger than %d bytes", maxMetadataBytes)
	}
	rc, err := found.Open()
	if err != nil {
		return nil, nil, errs.Wrap(err, errs.Invalid, "malformed wheel: cannot read %s", found.Name)
	}
	defer rc.Close()
	// The declared size may lie; read at most one byte past the limit.
	b, err := io.ReadAll(io.LimitReader(rc, maxMetadataBytes+1))
	if err != nil {
		return nil, nil, errs.Wrap(err, errs.Invalid, "malformed wheel: cannot read %s", found.Name)
	}
	if len(b) > maxMetadataBytes {
		return nil, nil, errs.E(errs.TooLarge, "wheel METADATA is larger than %d bytes", maxMetadataBytes)
	}
	m, err := ParseMetadata(b)
	if err != nil {
		return nil, nil, errs.E(errs.KindOf(err), "wheel METADATA: %s", errs.Message(err))
	}
	// The directory's name must be the distribution's.
	dir := strings.TrimSuffix(path.Dir(found.Name), ".dist-info")
	if name, _, ok := strings.Cut(dir, "-"); !ok || Normalize(name) != Normalize(m.Get("name")) {
		return nil, nil, errs.E(errs.Invalid, "malformed wheel: %s does not name the distribution %q of its METADATA", path.Dir(found.Name), m.Get("name"))
	}
	return b, m, nil
}

// SdistMetadata finds the PKG-INFO at the top of a source distribution
// ({name}-{version}/PKG-INFO) in a .tar.gz or .zip archive.
func SdistMetadata(r io.ReaderAt, size int64, ext string) ([]byte, *Metadata, error) {
	var b []byte
	var err error
	if ext == ".zip" {
		b, err = zipPKGInfo(r, size)
	} else {
		b, err = tarPKGInfo(io.NewSectionReader(r, 0, size))
	}
	if err != nil {
		return nil, nil, err
	}
	m, err := ParseMetadata(b)
	if err != nil {
		return nil, nil, errs.E(errs.KindOf(err), "sdist PKG-INFO: %s", errs.Message(err))
	}
	return b, m, nil
}

// safePath reports whether an archive member's name stays inside the
// directory it is unpacked to.
func safePath(name string) bool {
	if name == "" || len(name) > maxArchiveNameBytes || strings.HasPrefix(name, "/") || strings.ContainsAny(name, "\\\x00") {
		return false
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == ".." {
			return false
		}
	}
	return true
}

// isTopPKGInfo reports whether an archive entry is {dir}/PKG-INFO.
func isTopPKGInfo(name string) bool {
	name = strings.TrimPrefix(name, "./")
	dir, base := path.Split(name)
	return base == "PKG-INFO" && strings.Count(dir, "/") == 1 && dir != "/"
}

func tarPKGInfo(r io.Reader) ([]byte, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "malformed sdist: not a gzip file")
	}
	// Count decompressed bytes, so that a gzip bomb ends the scan.
	counted := &countingReader{r: zr, left: maxSdistScanBytes}
	tr := tar.NewReader(counted)
	for n := 0; ; n++ {
		if n > maxArchiveEntries {
			return nil, errs.E(errs.Invalid, "malformed sdist: more than %d entries", maxArchiveEntries)
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil, errs.E(errs.Invalid, "malformed sdist: no {name}-{version}/PKG-INFO in it")
		}
		if err != nil {
			if counted.left < 0 {
				return nil, errs.E(errs.Invalid, "sdist: no PKG-INFO within the first %d decompressed bytes", int64(maxSdistScanBytes))
			}
			return nil, errs.Wrap(err, errs.Invalid, "malformed sdist: not a valid tar.gz archive")
		}
		if len(hdr.Name) > maxArchiveNameBytes || hdr.Typeflag != tar.TypeReg || !isTopPKGInfo(hdr.Name) {
			continue
		}
		if hdr.Size > maxMetadataBytes {
			return nil, errs.E(errs.TooLarge, "sdist PKG-INFO is larger than %d bytes", maxMetadataBytes)
		}
		b, err := io.ReadAll(io.LimitReader(tr, maxMetadataBytes+1))
		if err != nil {
			return nil, errs.Wrap(err, errs.Invalid, "malformed sdist: cannot read PKG-INFO")
		}
		return b, nil
	}
}

func zipPKGInfo(r io.ReaderAt, size int64) ([]byte, error) {
	zr, err := zip.NewReader(r, size)
	if errors.Is(err, zip.ErrInsecurePath) {
		return nil, errs.E(errs.Invalid, "malformed sdist: it holds a file with an unsafe path (absolute, or with ..)")
	}
	if err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "malformed sdist: not a valid zip archive")
	}
	if len(zr.File) > maxArchiveEntries {
		return nil, errs.E(errs.Invalid, "malformed sdist: more than %d entries", maxArchiveEntries)
	}
	for _, f := range zr.File {
		if !isTopPKGInfo(f.Name) {
			continue
		}
		if f.UncompressedSize64 > maxMetadataBytes {
			return nil, errs.E(errs.TooLarge, "sdist PKG-INFO is larger than %d bytes", maxMetadataBytes)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, errs.Wrap(err, errs.Invalid, "malformed sdist: cannot read PKG-INFO")
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxMetadataBytes+1))
		rc.Close()
		if err != nil {
			return nil, errs.Wrap(err, errs.Invalid, "malformed sdist: cannot read PKG-INFO")
		}
		return b, nil
	}
	return nil, errs.E(errs.Invalid, "malformed sdist: no {name}-{version}/PKG-INFO in it")
}

// countingReader fails once more than left bytes have been read.
type countingReader struct {
	r    io.Reader
	left int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, errors.New("read limit exceeded")
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n, errors.New("read limit exceeded")
	}
	return n, err
}
