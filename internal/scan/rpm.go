package scan

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver arca already uses

	"github.com/arcaproject/arca/internal/vulndb"
)

// RPM databases. rpm keeps one header blob per installed package in one
// of three containers: SQLite (rpmdb.sqlite, rpm >= 4.16: RHEL 9,
// Fedora 33+, Azure Linux), Berkeley DB's hash format (Packages: RHEL <=
// 8, CentOS, Amazon Linux 2) or rpm's own NDB (Packages.db: SUSE). The
// SQLite file is read with modernc's SQLite (the database arca embeds);
// the BDB pages, the NDB slots and the header blobs are read here, from
// bytes already in memory, every offset checked and every loop bounded,
// because github.com/knqyf263/go-rpmdb (what Trivy uses) cannot be given
// untrusted input in a server: its readers run in a goroutine of their
// own that panics on out-of-range offsets (which no caller can recover),
// loops forever on a zeroed overflow page (its issue #37), allocates
// whatever length a blob header claims, and is left blocked, holding the
// open file, when the caller stops at a malformed header. The formats:
// rpm's lib/backend/bdb_ro.c, lib/backend/ndb/rpmpkg.c and lib/header.c.

// rpmDBFiles are the paths of rpm databases in an image (Fedora 36+ and
// SUSE keep them under /usr/lib/sysimage/rpm, /var/lib/rpm linking there).
var rpmDBFiles = map[string]bool{
	"var/lib/rpm/rpmdb.sqlite": true, "var/lib/rpm/Packages": true, "var/lib/rpm/Packages.db": true,
	"usr/lib/sysimage/rpm/rpmdb.sqlite": true, "usr/lib/sysimage/rpm/Packages": true, "usr/lib/sysimage/rpm/Packages.db": true,
}

// rpmHeader is what arca reads of an installed package's header.
type rpmHeader struct {
	Name, Version, Release, Arch, SourceRPM string
	Epoch                                   int64 // -1 when absent
	Requires, Provides                      []string
}

// EVR is [epoch:]version-release, as rpm -q prints it and OSV's RPM
// ecosystems compare it (an absent epoch is 0).
func (h rpmHeader) EVR() string {
	vr := h.Version + "-" + h.Release
	if h.Epoch > 0 {
		return strconv.FormatInt(h.Epoch, 10) + ":" + vr
	}
	return vr
}

// SourceName is the source package's name: its file name
// (openssl-3.0.7-16.el9_2.src.rpm) without version, release and suffix.
func (h rpmHeader) SourceName() string {
	s, ok := strings.CutSuffix(h.SourceRPM, ".src.rpm")
	if !ok {
		if s, ok = strings.CutSuffix(h.SourceRPM, ".nosrc.rpm"); !ok {
			return ""
		}
	}
	for range 2 {
		i := strings.LastIndexByte(s, '-')
		if i <= 0 {
			return ""
		}
		s = s[:i]
	}
	return s
}

// RPM header tags and types (rpm's include/rpm/rpmtag.h).
const (
	rpmTagName        = 1000
	rpmTagVersion     = 1001
	rpmTagRelease     = 1002
	rpmTagEpoch       = 1003
	rpmTagArch        = 1022
	rpmTagSourceRPM   = 1044
	rpmTagProvideName = 1047
	rpmTagRequireName = 1049

	rpmTypeInt32       = 4
	rpmTypeString      = 6
	rpmTypeStringArray = 8
	rpmTypeI18NString  = 9
)

// parseRPMHeader reads a header blob as rpm stores it in its database:
// the index length il and data length dl (big-endian int32), il entries
// of tag, type, offset and count, then dl bytes of data.
func parseRPMHeader(b []byte) (rpmHeader, bool) {
	h := rpmHeader{Epoch: -1}
	if len(b) < 8 {
		return h, false
	}
	il, dl := binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
	// rpm's own sanity limits (hdrchkTags, hdrchkData).
	if il < 1 || il > 0xffff || dl > 256<<20 || uint64(8+16*uint64(il)+uint64(dl)) > uint64(len(b)) {
		return h, false
	}
	index := b[8 : 8+16*il]
	data := b[8+16*il : 8+16*il+dl]
	str := func(off uint32) (string, bool) {
		if off >= uint32(len(data)) {
			return "", false
		}
		end := bytes.IndexByte(data[off:], 0)
		if end < 0 || end > 4096 {
			return "", false
		}
		return string(data[off : off+uint32(end)]), true
	}
	strs := func(off, count uint32) []string {
		var out []string
		for i := uint32(0); i < count && len(out) < 2000; i++ {
			s, ok := str(off)
			if !ok {
				break
			}
			out = append(out, s)
			off += uint32(len(s)) + 1
		}
		return out
	}
	for i := uint32(0); i < il; i++ {
		e := index[16*i : 16*i+16]
		tag, typ := binary.BigEndian.Uint32(e), binary.BigEndian.Uint32(e[4:])
		off, count := binary.BigEndian.Uint32(e[8:]), binary.BigEndian.Uint32(e[12:])
		isString := typ == rpmTypeString || typ == rpmTypeI18NString || (typ == rpmTypeStringArray && count > 0)
		switch tag {
		case rpmTagName, rpmTagVersion, rpmTagRelease, rpmTagArch, rpmTagSourceRPM:
			if !isString {
				continue
			}
			s, _ := str(off)
			switch tag {
			case rpmTagName:
				h.Name = s
			case rpmTagVersion:
				h.Version = s
			case rpmTagRelease:
				h.Release = s
			case rpmTagArch:
				h.Arch = s
			case rpmTagSourceRPM:
				h.SourceRPM = s
			}
		case rpmTagEpoch:
			if typ == rpmTypeInt32 && count >= 1 && uint64(off)+4 <= uint64(len(data)) {
				h.Epoch = int64(binary.BigEndian.Uint32(data[off:]))
			}
		case rpmTagRequireName, rpmTagProvideName:
			if typ != rpmTypeStringArray {
				continue
			}
			if tag == rpmTagRequireName {
				h.Requires = strs(off, count)
			} else {
				h.Provides = strs(off, count)
			}
		}
	}
	return h, h.Name != "" && h.Version != "" && h.Release != ""
}

// rpmBlobs reads the header blobs of a database file of any of the three
// kinds (told apart by their magic numbers). A blob that cannot be read
// ends the list; what was read is kept.
func rpmBlobs(ctx context.Context, b []byte) [][]byte {
	switch {
	case bytes.HasPrefix(b, []byte("SQLite format 3\x00")):
		return rpmSQLiteBlobs(ctx, b)
	case len(b) >= 16 && string(b[:4]) == "RpmP":
		return rpmNDBBlobs(b)
	default:
		return rpmBDBBlobs(b)
	}
}

// rpmSQLiteBlobs reads rpmdb.sqlite's Packages table. SQLite needs a
// file, so the bytes (at most Limits.FileBytes) are written to a
// temporary one, opened immutable (no journal, no locks, nothing written
// beside it) with cell size checks on, as SQLite's guidance for
// untrusted database files asks. Packages must be a plain table whose
// blob column is stored (not a view or a generated column, which could
// compute without end), and the query has a deadline.
func rpmSQLiteBlobs(ctx context.Context, b []byte) [][]byte {
	f, err := os.CreateTemp("", "arca-rpmdb-*.sqlite")
	if err != nil {
		return nil
	}
	defer os.Remove(f.Name())
	_, err = f.Write(b)
	if cerr := f.Close(); err != nil || cerr != nil {
		return nil
	}
	dsn := (&url.URL{Scheme: "file", OmitHost: true, Path: f.Name(),
		RawQuery: "mode=ro&immutable=1&_pragma=cell_size_check(1)&_pragma=trusted_schema(0)"}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var typ string
	if db.QueryRowContext(ctx, `SELECT type FROM sqlite_schema WHERE name = 'Packages'`).Scan(&typ) != nil || typ != "table" {
		return nil
	}
	var hidden int
	if db.QueryRowContext(ctx, `SELECT hidden FROM pragma_table_xinfo('Packages') WHERE name = 'blob'`).Scan(&hidden) != nil || hidden != 0 {
		return nil
	}
	rows, err := db.QueryContext(ctx, `SELECT blob FROM Packages`)
	if err != nil {
		return nil
	}
	defer rows.Close()
	var out [][]byte
	total := 0
	for rows.Next() && len(out) < maxPackagesPerFile {
		var blob []byte
		if rows.Scan(&blob) != nil {
			break
		}
		if total += len(blob); total > len(b) {
			break
		}
		out = append(out, blob)
	}
	return out
}

// rpmNDBBlobs reads rpm's NDB Packages.db: a 32-byte header ("RpmP",
// version 0, generation, the number of 4 KiB slot pages), slots of 16
// bytes ("Slot", package index, block offset, block count) filling the
// slot pages after the header, and at each used slot's block (16-byte
// blocks) a blob header ("BlbS", package index, checksum, length) and
// the header blob. All little-endian.
func rpmNDBBlobs(b []byte) [][]byte {
	le := binary.LittleEndian
	if len(b) < 32 || string(b[:4]) != "RpmP" || le.Uint32(b[4:]) != 0 {
		return nil
	}
	pages := uint64(le.Uint32(b[12:]))
	if pages == 0 || pages*4096 > uint64(len(b)) {
		return nil
	}
	var out [][]byte
	for off := uint64(32); off+16 <= pages*4096 && len(out) < maxPackagesPerFile; off += 16 {
		s := b[off : off+16]
		if string(s[:4]) != "Slot" {
			break
		}
		pkg, blk := le.Uint32(s[4:]), uint64(le.Uint32(s[8:]))
		if pkg == 0 {
			continue
		}
		at := blk * 16
		if at+16 > uint64(len(b)) || string(b[at:at+4]) != "BlbS" || le.Uint32(b[at+4:]) != pkg {
			continue
		}
		n := uint64(le.Uint32(b[at+12:]))
		if at+16+n > uint64(len(b)) {
			continue
		}
		out = append(out, b[at+16:at+16+n])
	}
	return out
}

// Berkeley DB hash database constants (libdb's dbinc/db_page.h).
const (
	bdbHashMagic     = 0x061561
	bdbPageHeader    = 26
	bdbPageHashMeta  = 8
	bdbPageHashUns   = 2  // hash page of databases before BDB 4.6
	bdbPageHash      = 13 // sorted hash page
	bdbPageOverflow  = 7
	bdbItemOffPage   = 3 // H_OFFPAGE: the value lives on overflow pages
	bdbOffPageLength = 12
)

// rpmBDBBlobs reads a Berkeley DB hash database (rpm's Packages): page 0
// is the metadata (magic, page size, last page number; big-endian when
// the magic reads swapped); on every hash page the items alternate key
// and value, and a package's value is an off-page item whose bytes are
// a chain of overflow pages. Every value's bytes together may not exceed
// the file's size (a chain shared by many items would otherwise
// multiply it), and an overflow page is read once: a chain that comes
// to a page already read (a loop, or a page two values claim) is broken
// off, so the work is linear in the file's size.
func rpmBDBBlobs(b []byte) [][]byte {
	if len(b) < 512 {
		return nil
	}
	var bo binary.ByteOrder = binary.LittleEndian
	switch {
	case binary.LittleEndian.Uint32(b[12:]) == bdbHashMagic:
	case binary.BigEndian.Uint32(b[12:]) == bdbHashMagic:
		bo = binary.BigEndian
	default:
		return nil
	}
	ps := uint64(bo.Uint32(b[20:]))
	if b[24] != 0 || b[25] != bdbPageHashMeta || ps < 512 || ps > 65536 || ps&(ps-1) != 0 {
		return nil
	}
	npages := uint64(len(b)) / ps
	last := min(uint64(bo.Uint32(b[32:])), npages-1)
	page := func(n uint64) []byte {
		if n >= npages {
			return nil
		}
		return b[n*ps : (n+1)*ps]
	}
	var out [][]byte
	budget := len(b)
	visited := make([]bool, npages) // overflow pages: each belongs to one value
	for n := uint64(1); n <= last && len(out) < maxPackagesPerFile; n++ {
		p := page(n)
		if p[25] != bdbPageHash && p[25] != bdbPageHashUns {
			continue
		}
		entries := uint64(bo.Uint16(p[20:]))
		if bdbPageHeader+2*entries > ps {
			continue
		}
		for i := uint64(1); i < entries; i += 2 { // values: every second item
			at := uint64(bo.Uint16(p[bdbPageHeader+2*i:]))
			if at+bdbOffPageLength > ps || p[at] != bdbItemOffPage {
				continue
			}
			next, tlen := uint64(bo.Uint32(p[at+4:])), int(bo.Uint32(p[at+8:]))
			if tlen > budget {
				return out
			}
			var val []byte
			for next != 0 && next < npages && len(val) < tlen && !visited[next] {
				visited[next] = true
				op := page(next)
				if op == nil || op[25] != bdbPageOverflow {
					break
				}
				used := min(uint64(bo.Uint16(op[22:])), ps-bdbPageHeader, uint64(tlen-len(val)))
				val = append(val, op[bdbPageHeader:bdbPageHeader+used]...)
				next = uint64(bo.Uint32(op[16:]))
			}
			if len(val) != tlen {
				continue
			}
			budget -= tlen
			out = append(out, val)
			if len(out) >= maxPackagesPerFile {
				break
			}
		}
	}
	return out
}

// rpmEcosystem is the OSV ecosystem of an RPM distribution's packages,
// named as OSV's exports name them, with the release narrowing matching:
// "Red Hat:enterprise_linux:9" (RHEL 9's advisories are keyed
// "Red Hat:enterprise_linux:9::baseos", "...::appstream", ...: the
// release matches them all), "AlmaLinux:9", "Rocky Linux:9",
// "openSUSE:Leap 15.5", "SUSE" (SUSE's advisories are keyed by product,
// "SUSE:Linux Enterprise Server 15 SP5", "...Module for Basesystem
// 15 SP5", which os-release does not name), "Azure Linux:3.0" (CBL
// Mariner's advisories included; osv-scalibr's semantic package has no
// ordering for its versions, so only advisories that list versions
// match). CentOS has no data of its own; it is built from
// RHEL's sources, so RHEL's advisories for its release apply. Other RPM
// distributions (Fedora, Amazon Linux, Oracle Linux) have no OSV
// ecosystem: their packages are catalogued under "RPM" and match nothing.
func (r OSRelease) rpmEcosystem() string {
	major, _, _ := strings.Cut(r.VersionID, ".")
	withMajor := func(eco string) string {
		if major == "" {
			return eco
		}
		return eco + ":" + major
	}
	switch r.ID {
	case "rhel", "centos":
		if major == "" {
			return "Red Hat"
		}
		return "Red Hat:enterprise_linux:" + major
	case "almalinux":
		return withMajor("AlmaLinux")
	case "rocky":
		return withMajor("Rocky Linux")
	case "opensuse-leap":
		if r.VersionID == "" {
			return "openSUSE"
		}
		return "openSUSE:Leap " + r.VersionID
	case "opensuse-tumbleweed", "opensuse":
		return "openSUSE"
	case "sles", "sled", "sle-micro":
		return "SUSE"
	case "azurelinux", "mariner":
		if r.VersionID == "" {
			return "Azure Linux"
		}
		return "Azure Linux:" + r.VersionID
	}
	return "RPM"
}

// rpmNamespace is the purl namespace of a distribution's RPMs (the
// vendor, as purl-spec's rpm examples spell it).
func (r OSRelease) rpmNamespace() string {
	switch r.ID {
	case "rhel":
		return "redhat"
	case "sles", "sled", "sle-micro":
		return "suse"
	case "opensuse-leap", "opensuse-tumbleweed":
		return "opensuse"
	case "mariner", "azurelinux":
		return "azurelinux"
	case "":
		return "rpm"
	}
	return r.ID
}

// parseRPMDB lists the packages of an rpm database file (any of the
// three kinds). gpg-pubkey entries (imported signing keys, not
// packages) are left out. Each package's dependencies are the installed
// packages that provide what it requires.
func parseRPMDB(ctx context.Context, b []byte, osr OSRelease) []vulndb.Component {
	var hdrs []rpmHeader
	for _, blob := range rpmBlobs(ctx, b) {
		if h, ok := parseRPMHeader(blob); ok && h.Name != "gpg-pubkey" {
			hdrs = append(hdrs, h)
		}
	}
	provider := map[string]string{}
	for _, h := range hdrs {
		provider[h.Name] = h.Name
		for _, p := range h.Provides {
			if _, ok := provider[p]; !ok {
				provider[p] = h.Name
			}
		}
	}
	eco, ns := osr.rpmEcosystem(), osr.rpmNamespace()
	distro := ""
	if osr.ID != "" && osr.VersionID != "" {
		distro = osr.ID + "-" + osr.VersionID
	}
	out := make([]vulndb.Component, 0, len(hdrs))
	for _, h := range hdrs {
		src := h.SourceName()
		if src == h.Name {
			src = ""
		}
		c := vulndb.Component{Ecosystem: eco, Name: h.Name, Version: h.EVR(), Source: src,
			PURL: rpmPURL(ns, h, distro)}
		for _, r := range h.Requires {
			if p, ok := provider[r]; ok && p != h.Name && !slices.Contains(c.Dependencies, p) && len(c.Dependencies) < 200 {
				c.Dependencies = append(c.Dependencies, p)
			}
		}
		sortStrings(c.Dependencies)
		out = append(out, c)
	}
	return out
}

// rpmPURL is purl-spec's rpm package URL: the version is
// version-release, the epoch a qualifier; qualifiers sorted by key.
func rpmPURL(namespace string, h rpmHeader, distro string) string {
	p := purl("rpm", namespace, h.Name, h.Version+"-"+h.Release)
	q := url.Values{}
	if h.Arch != "" {
		q.Set("arch", h.Arch)
	}
	if distro != "" {
		q.Set("distro", distro)
	}
	if h.Epoch > 0 {
		q.Set("epoch", fmt.Sprint(h.Epoch))
	}
	if len(q) > 0 {
		p += "?" + strings.ReplaceAll(q.Encode(), "+", "%20")
	}
	return p
}
