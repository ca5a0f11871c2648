package scan

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/vulndb"
)

// Limits bound the work of cataloguing one image: its layers are
// untrusted archives.
type Limits struct {
	// LayerBytes bounds one layer's uncompressed tar stream.
	LayerBytes int64
	// Files bounds the entries walked in all layers of an image.
	Files int
	// FileBytes bounds one package database read into memory (a dpkg
	// status file of a large image is a few MB).
	FileBytes int64
}

// DefaultLimits are the limits when none are configured.
var DefaultLimits = Limits{LayerBytes: 8 << 30, Files: 2_000_000, FileBytes: 64 << 20}

// interesting says whether a path in an image holds package metadata, and
// the most bytes of it that are read.
func interesting(p string, l Limits) (int64, bool) {
	switch {
	case p == "var/lib/dpkg/status", p == "lib/apk/db/installed", rpmDBFiles[p]:
		return l.FileBytes, true
	case strings.HasPrefix(p, "var/lib/dpkg/status.d/") && !strings.HasSuffix(p, ".md5sums"):
		return l.FileBytes, true
	case p == "etc/os-release", p == "usr/lib/os-release":
		return 64 << 10, true
	case strings.HasSuffix(p, ".dist-info/METADATA"), strings.HasSuffix(p, ".egg-info/PKG-INFO"):
		return 1 << 20, true
	case strings.HasSuffix(p, "/package.json") && isNodeModule(p):
		return 1 << 20, true
	}
	return 0, false
}

// isNodeModule reports whether p is node_modules/<name>/package.json or
// node_modules/@scope/<name>/package.json (not a file deeper inside a
// package).
func isNodeModule(p string) bool {
	dir := path.Dir(p)
	parent := path.Dir(dir)
	if path.Base(parent) == "node_modules" {
		return true
	}
	return strings.HasPrefix(path.Base(parent), "@") && path.Base(path.Dir(parent)) == "node_modules"
}

// layerFiles is the union of the interesting files of an image's layers,
// applied in order, whiteouts included.
type layerFiles struct {
	files  map[string][]byte
	walked int
	limits Limits
}

// zstdMaxWindow bounds the memory a zstd layer's decoder may use: the
// window a frame declares (zstd's own command line refuses windows over
// 128 MiB unless told otherwise; layers are written with far smaller).
const zstdMaxWindow = 128 << 20

// add reads one layer (a tar: plain, gzip- or zstd-compressed, told
// apart by the stream's magic number as the media type allows all three).
func (lf *layerFiles) add(r io.Reader) error {
	br := bufio.NewReader(r)
	var rd io.Reader = br
	if magic, _ := br.Peek(4); len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return errs.Wrap(err, errs.Invalid, "layer is not a valid gzip stream")
		}
		defer gz.Close()
		rd = gz
	} else if bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return errs.Wrap(err, errs.Invalid, "layer is not a valid zstd stream")
		}
		defer zr.Close()
		rd = zr
	}
	limited := &io.LimitedReader{R: rd, N: lf.limits.LayerBytes + 1}
	tr := tar.NewReader(limited)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if limited.N <= 0 {
			return errs.E(errs.TooLarge, "a layer is larger than %d bytes uncompressed", lf.limits.LayerBytes)
		}
		if err != nil {
			return errs.Wrap(err, errs.Invalid, "reading a layer")
		}
		if lf.walked++; lf.walked > lf.limits.Files {
			return errs.E(errs.TooLarge, "the image has more than %d files", lf.limits.Files)
		}
		p := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		dir, base := path.Split(p)
		if base == ".wh..wh..opq" {
			lf.removeUnder(strings.TrimSuffix(dir, "/"), false)
			continue
		}
		if name, ok := strings.CutPrefix(base, ".wh."); ok {
			lf.removeUnder(dir+name, true)
			continue
		}
		if hdr.Typeflag == tar.TypeDir {
			continue
		}
		// A later layer's file of any kind replaces an earlier one.
		delete(lf.files, p)
		max, ok := interesting(p, lf.limits)
		if !ok || (hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA) || hdr.Size > max {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, max))
		if err != nil {
			return errs.Wrap(err, errs.Invalid, "reading %s from a layer", p)
		}
		lf.files[p] = b
	}
}

// removeUnder deletes what a whiteout hides: p itself (when self) and
// everything below it.
func (lf *layerFiles) removeUnder(p string, self bool) {
	for f := range lf.files {
		if (self && f == p) || strings.HasPrefix(f, p+"/") || p == "" {
			delete(lf.files, f)
		}
	}
}

// components reads the package databases found.
func (lf *layerFiles) components(ctx context.Context) []vulndb.Component {
	osr := parseOSRelease(lf.files["etc/os-release"])
	if osr.ID == "" {
		osr = parseOSRelease(lf.files["usr/lib/os-release"])
	}
	var out []vulndb.Component
	seen := map[string]bool{}
	addAll := func(cs []vulndb.Component, at string) {
		for _, c := range cs {
			key := c.Ecosystem + "\x00" + c.Name + "\x00" + c.Version
			if !seen[key] {
				seen[key] = true
				c.Path = at
				out = append(out, c)
			}
		}
	}
	for _, p := range sortedKeys(lf.files) {
		b := lf.files[p]
		switch {
		case p == "var/lib/dpkg/status" || strings.HasPrefix(p, "var/lib/dpkg/status.d/"):
			addAll(parseDpkgStatus(b, osr.Ecosystem("Debian")), p)
		case p == "lib/apk/db/installed":
			addAll(parseApkInstalled(b, osr.Ecosystem("Alpine")), p)
		case rpmDBFiles[p]:
			addAll(parseRPMDB(ctx, b, osr), p)
		case strings.HasSuffix(p, "/METADATA") || strings.HasSuffix(p, "/PKG-INFO"):
			if c, ok := parsePythonMetadata(b); ok {
				addAll([]vulndb.Component{c}, p)
			}
		case strings.HasSuffix(p, "/package.json"):
			if c, ok := parsePackageJSON(b); ok {
				addAll([]vulndb.Component{c}, p)
			}
		}
	}
	return out
}

// catalog walks an image's layers (in manifest order) and lists the
// packages installed in the resulting file system.
func catalog(ctx context.Context, blobs *blob.Store, layers []blob.Digest, l Limits) ([]vulndb.Component, error) {
	lf := &layerFiles{files: map[string][]byte{}, limits: l}
	for _, d := range layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rd, err := blobs.Open(ctx, d)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", d, err)
		}
		err = lf.add(rd)
		rd.Close()
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", d, err)
		}
	}
	return lf.components(ctx), nil
}
