package scan

import (
	"archive/tar"
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// RPMSpec is one package for BuildRPMDB: a noarch package without files.
type RPMSpec struct {
	Name, Epoch, Version, Release string
	// Sub names subpackages (Name-Sub), built from the same source.
	Sub []string
	// Requires are capabilities the main package requires.
	Requires []string
}

// BuildRPMDB builds the packages with rpmbuild and installs them with
// `rpm -i --justdb` into a fresh database, as rpm writes it (Debian's rpm
// 4.18 writes rpmdb.sqlite), and returns its bytes. Without rpmbuild
// the test is skipped (failed under CI: scripts/test.sh installs rpm).
func BuildRPMDB(t testing.TB, specs ...RPMSpec) []byte {
	t.Helper()
	for _, tool := range []string{"rpmbuild", "rpm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found; scripts/test.sh installs Debian's rpm", tool)
			}
			t.Skipf("%s not found; scripts/test.sh installs Debian's rpm", tool)
		}
	}
	dir := t.TempDir()
	top, db := filepath.Join(dir, "top"), filepath.Join(dir, "db")
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	for _, s := range specs {
		var spec strings.Builder
		fmt.Fprintf(&spec, "Name: %s\nVersion: %s\nRelease: %s\nSummary: test\nLicense: MIT\nBuildArch: noarch\n", s.Name, s.Version, s.Release)
		if s.Epoch != "" {
			fmt.Fprintf(&spec, "Epoch: %s\n", s.Epoch)
		}
		for _, r := range s.Requires {
			fmt.Fprintf(&spec, "Requires: %s\n", r)
		}
		spec.WriteString("%description\ntest\n%files\n")
		for _, sub := range s.Sub {
			fmt.Fprintf(&spec, "%%package %s\nSummary: test\n%%description %s\ntest\n%%files %s\n", sub, sub, sub)
		}
		fn := filepath.Join(dir, s.Name+".spec")
		os.WriteFile(fn, []byte(spec.String()), 0o644)
		run("rpmbuild", "-bb", "--quiet", "--define", "_topdir "+top, fn)
	}
	rpms, _ := filepath.Glob(filepath.Join(top, "RPMS", "noarch", "*.rpm"))
	if len(rpms) == 0 {
		t.Fatal("rpmbuild built nothing")
	}
	os.MkdirAll(db, 0o755)
	run("rpm", "--initdb", "--dbpath", db)
	run("rpm", append([]string{"-i", "--justdb", "--nodeps", "--nosignature", "--dbpath", db}, rpms...)...)
	b, err := os.ReadFile(filepath.Join(db, "rpmdb.sqlite"))
	if err != nil {
		t.Fatalf("rpm wrote no rpmdb.sqlite: %v", err)
	}
	return b
}

// RHEL 9's openssl: the binary packages openssl and openssl-libs, built
// from the source package openssl, and curl requiring openssl-libs.
var rhelPackages = []RPMSpec{
	{Name: "openssl", Epoch: "1", Version: "3.0.1", Release: "43.el9_0", Sub: []string{"libs"}},
	{Name: "curl", Version: "7.76.1", Release: "19.el9", Requires: []string{"openssl-libs"}},
}

// A database rpm wrote lists each package with its epoch, version,
// release, arch and source RPM; ecosystem, purl and dependencies follow
// os-release.
func TestRPMDatabase(t *testing.T) {
	db := BuildRPMDB(t, rhelPackages...)
	comps := parseRPMDB(context.Background(), db, OSRelease{ID: "rhel", VersionID: "9.0"})
	var got []string
	for _, c := range comps {
		got = append(got, fmt.Sprintf("%s|%s|%s|%s|%s|%s", c.Ecosystem, c.Name, c.Version, c.Source, c.PURL, strings.Join(c.Dependencies, ",")))
	}
	sortStrings(got)
	want := []string{
		"Red Hat:enterprise_linux:9|curl|7.76.1-19.el9||pkg:rpm/redhat/curl@7.76.1-19.el9?arch=noarch&distro=rhel-9.0|openssl-libs",
		"Red Hat:enterprise_linux:9|openssl-libs|1:3.0.1-43.el9_0|openssl|pkg:rpm/redhat/openssl-libs@3.0.1-43.el9_0?arch=noarch&distro=rhel-9.0&epoch=1|",
		"Red Hat:enterprise_linux:9|openssl|1:3.0.1-43.el9_0||pkg:rpm/redhat/openssl@3.0.1-43.el9_0?arch=noarch&distro=rhel-9.0&epoch=1|",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("components\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The layer walker finds it where RHEL 9 (and, linked, Fedora) keep it.
	for _, at := range []string{"var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite"} {
		lf := &layerFiles{files: map[string][]byte{}, limits: DefaultLimits}
		if err := lf.add(bytes.NewReader(layer(t, "etc/os-release", "ID=\"almalinux\"\nVERSION_ID=\"9.2\"\n", at, string(db)))); err != nil {
			t.Fatal(err)
		}
		cs := lf.components(context.Background())
		if len(cs) != 3 || cs[0].Ecosystem != "AlmaLinux:9" || cs[0].Path != at || !strings.HasPrefix(cs[0].PURL, "pkg:rpm/almalinux/") {
			t.Fatalf("%s: %+v", at, cs)
		}
	}
	// A database larger than Limits.FileBytes is not read.
	lf := &layerFiles{files: map[string][]byte{}, limits: Limits{LayerBytes: 1 << 30, Files: 100, FileBytes: int64(len(db)) - 1}}
	lf.add(bytes.NewReader(layer(t, "var/lib/rpm/rpmdb.sqlite", string(db))))
	if cs := lf.components(context.Background()); len(cs) != 0 {
		t.Fatalf("an oversized database was read: %+v", cs)
	}
	// A file that only starts like SQLite, and SQLite databases whose
	// Packages is a view computing without end or whose blob is a
	// generated column of a gigabyte, list nothing.
	for name, b := range map[string][]byte{
		"garbage": append([]byte("SQLite format 3\x00"), make([]byte, 4096)...),
		"view":    sqliteFile(t, `CREATE VIEW Packages AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT randomblob(100) AS blob FROM c`),
		"generated": sqliteFile(t, `CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB AS (zeroblob(1000000000)))`,
			`INSERT INTO Packages (hnum) VALUES (1)`),
	} {
		if cs := parseRPMDB(context.Background(), b, OSRelease{}); len(cs) != 0 {
			t.Fatalf("%s: %+v", name, cs)
		}
	}
}

// sqliteFile is an SQLite database made by the statements.
func sqliteFile(t *testing.T, stmts ...string) []byte {
	fn := filepath.Join(t.TempDir(), "x.sqlite")
	db, err := sql.Open("sqlite", fn)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	db.Close()
	b, _ := os.ReadFile(fn)
	return b
}

func TestRPMEcosystems(t *testing.T) {
	for in, want := range map[OSRelease]string{
		{ID: "rhel", VersionID: "9.4"}: "Red Hat:enterprise_linux:9", {ID: "centos", VersionID: "7"}: "Red Hat:enterprise_linux:7",
		{ID: "rhel"}: "Red Hat", {ID: "almalinux", VersionID: "8.9"}: "AlmaLinux:8", {ID: "rocky", VersionID: "9.3"}: "Rocky Linux:9",
		{ID: "opensuse-leap", VersionID: "15.5"}: "openSUSE:Leap 15.5", {ID: "opensuse-tumbleweed", VersionID: "20240101"}: "openSUSE",
		{ID: "sles", VersionID: "15.5"}: "SUSE", {ID: "mariner", VersionID: "2.0"}: "Azure Linux:2.0", {ID: "azurelinux", VersionID: "3.0"}: "Azure Linux:3.0",
		{ID: "fedora", VersionID: "40"}: "RPM", {}: "RPM",
	} {
		if got := in.rpmEcosystem(); got != want {
			t.Errorf("%+v: %s, want %s", in, got, want)
		}
	}
	if got := (rpmHeader{SourceRPM: "openssl-3.0.7-16.el9_2.src.rpm"}).SourceName(); got != "openssl" {
		t.Errorf("source name %q", got)
	}
	for _, bad := range []string{"", "x.src.rpm", "a-b.src.rpm", "openssl-3.0.7-16.el9_2.rpm"} {
		if got := (rpmHeader{SourceRPM: bad}).SourceName(); got != "" {
			t.Errorf("source name of %q: %q", bad, got)
		}
	}
}

func zstdLayer(t testing.TB, files ...string) []byte {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for i := 0; i+1 < len(files); i += 2 {
		tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1])), Typeflag: tar.TypeReg})
		tw.Write([]byte(files[i+1]))
	}
	tw.Close()
	enc, _ := zstd.NewWriter(nil)
	return enc.EncodeAll(tb.Bytes(), nil)
}

// zstd layers are read as gzip ones are, under the same limits.
func TestZstdLayer(t *testing.T) {
	lf := &layerFiles{files: map[string][]byte{}, limits: DefaultLimits}
	if err := lf.add(bytes.NewReader(zstdLayer(t, "etc/os-release", "ID=alpine\nVERSION_ID=3.16.0\n", "lib/apk/db/installed", "P:zlib\nV:1.2.12-r1\n"))); err != nil {
		t.Fatal(err)
	}
	if cs := lf.components(context.Background()); len(cs) != 1 || cs[0].Name != "zlib" || cs[0].Ecosystem != "Alpine:v3.16" {
		t.Fatalf("%+v", cs)
	}
	// 64 MiB of zeros compress to a few KiB: the uncompressed limit stops it.
	tiny := &layerFiles{files: map[string][]byte{}, limits: Limits{LayerBytes: 1 << 20, Files: 100, FileBytes: 1 << 20}}
	bomb := zstdLayer(t, "a", strings.Repeat("\x00", 64<<20))
	if err := tiny.add(bytes.NewReader(bomb)); err == nil || !strings.Contains(err.Error(), "larger than 1048576 bytes") || len(bomb) > 1<<20 {
		t.Fatalf("zstd bomb (%d bytes): %v", len(bomb), err)
	}
	if err := tiny.add(bytes.NewReader([]byte{0x28, 0xb5, 0x2f, 0xfd, 0xff, 0xff, 0xff})); err == nil {
		t.Fatal("a corrupt zstd stream was read")
	}
}

// rpmHeaderBlob builds a header blob as rpm stores it: entries of
// (tag, type, value), values a string, a []string or an int32.
func rpmHeaderBlob(entries ...any) []byte {
	var index, data bytes.Buffer
	for i := 0; i+2 < len(entries); i += 3 {
		tag, typ := entries[i].(int), entries[i+1].(int)
		off, count := data.Len(), 1
		switch v := entries[i+2].(type) {
		case string:
			data.WriteString(v + "\x00")
		case []string:
			count = len(v)
			for _, s := range v {
				data.WriteString(s + "\x00")
			}
		case int:
			for data.Len()%4 != 0 {
				data.WriteByte(0)
			}
			off = data.Len()
			binary.Write(&data, binary.BigEndian, int32(v))
		}
		binary.Write(&index, binary.BigEndian, [4]uint32{uint32(tag), uint32(typ), uint32(off), uint32(count)})
	}
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, [2]uint32{uint32(len(entries) / 3), uint32(data.Len())})
	b.Write(index.Bytes())
	b.Write(data.Bytes())
	return b.Bytes()
}

func TestParseRPMHeader(t *testing.T) {
	blob := rpmHeaderBlob(rpmTagName, rpmTypeString, "bash", rpmTagVersion, rpmTypeString, "5.1.8", rpmTagRelease, rpmTypeString, "6.el9",
		rpmTagEpoch, rpmTypeInt32, 2, rpmTagArch, rpmTypeString, "x86_64", rpmTagSourceRPM, rpmTypeString, "bash-5.1.8-6.el9.src.rpm",
		rpmTagRequireName, rpmTypeStringArray, []string{"libc.so.6()(64bit)", "rpmlib(x)"})
	h, ok := parseRPMHeader(blob)
	if !ok || h.EVR() != "2:5.1.8-6.el9" || h.Arch != "x86_64" || h.SourceName() != "bash" || len(h.Requires) != 2 || h.Requires[1] != "rpmlib(x)" {
		t.Fatalf("%+v %v", h, ok)
	}
	for i := range blob { // every truncation fails or reads a prefix, never panics
		parseRPMHeader(blob[:i])
	}
}

// ndbFile lays header blobs out as rpm's NDB does.
func ndbFile(blobs ...[]byte) []byte {
	le := binary.LittleEndian
	b := make([]byte, 4096)
	copy(b, "RpmP")
	le.PutUint32(b[12:], 1)
	for i, blob := range blobs {
		s := b[32+16*i:]
		copy(s, "Slot")
		le.PutUint32(s[4:], uint32(i+1))
		le.PutUint32(s[8:], uint32(len(b)/16))
		var h [16]byte
		copy(h[:], "BlbS")
		le.PutUint32(h[4:], uint32(i+1))
		le.PutUint32(h[12:], uint32(len(blob)))
		b = append(append(b, h[:]...), blob...)
		for len(b)%16 != 0 {
			b = append(b, 0)
		}
	}
	for i := len(blobs); 32+16*i+16 <= 4096; i++ {
		copy(b[32+16*i:], "Slot")
	}
	return b
}

// bdbFile lays header blobs out as a Berkeley DB hash database: the
// metadata page, one hash page of key/off-page value pairs, and each
// value on a chain of overflow pages.
func bdbFile(ps int, blobs ...[]byte) []byte {
	le := binary.LittleEndian
	pages := [][]byte{make([]byte, ps), make([]byte, ps)}
	hash := pages[1]
	hash[25] = bdbPageHash
	le.PutUint16(hash[20:], uint16(2*len(blobs)))
	free := ps
	for i, blob := range blobs {
		free -= bdbOffPageLength
		le.PutUint16(hash[bdbPageHeader+4*i:], uint16(free-8)) // key: not read
		le.PutUint16(hash[bdbPageHeader+4*i+2:], uint16(free)) // value
		hash[free] = bdbItemOffPage                            // H_OFFPAGE
		le.PutUint32(hash[free+4:], uint32(len(pages)))        // first overflow page
		le.PutUint32(hash[free+8:], uint32(len(blob)))         // total length
		free -= 8
		for off := 0; off < len(blob); off += ps - bdbPageHeader {
			p := make([]byte, ps)
			p[25] = bdbPageOverflow
			n := copy(p[bdbPageHeader:], blob[off:])
			le.PutUint16(p[22:], uint16(n))
			if off+n < len(blob) {
				le.PutUint32(p[16:], uint32(len(pages)+1))
			}
			pages = append(pages, p)
		}
	}
	meta := pages[0]
	le.PutUint32(meta[12:], bdbHashMagic)
	le.PutUint32(meta[20:], uint32(ps))
	meta[25] = bdbPageHashMeta
	le.PutUint32(meta[32:], uint32(len(pages)-1))
	return bytes.Join(pages, nil)
}

var fuzzHeader = rpmHeaderBlob(rpmTagName, rpmTypeString, "zlib", rpmTagVersion, rpmTypeString, "1.2.11", rpmTagRelease, rpmTypeString, "40.el9",
	rpmTagEpoch, rpmTypeInt32, 0, rpmTagSourceRPM, rpmTypeString, "zlib-1.2.11-40.el9.src.rpm", rpmTagProvideName, rpmTypeStringArray, []string{"libz.so.1()(64bit)"})

// The containers: what the builders above lay out is read back.
func TestRPMContainers(t *testing.T) {
	big := rpmHeaderBlob(rpmTagName, rpmTypeString, "big", rpmTagVersion, rpmTypeString, "1", rpmTagRelease, rpmTypeString, strings.Repeat("r", 3000))
	for name, db := range map[string][]byte{"ndb": ndbFile(fuzzHeader, big), "bdb": bdbFile(512, fuzzHeader, big)} {
		blobs := rpmBlobs(context.Background(), db)
		if len(blobs) != 2 || !bytes.Equal(blobs[0], fuzzHeader) || !bytes.Equal(blobs[1], big) {
			t.Fatalf("%s: %d blobs", name, len(blobs))
		}
	}
	// A chain of overflow pages that loops is not followed forever, and
	// a value longer than the file is not allocated.
	loop := bdbFile(512, big)
	binary.LittleEndian.PutUint32(loop[3*512+16:], 2)
	if blobs := rpmBDBBlobs(loop); len(blobs) != 0 {
		t.Fatalf("a looping chain yielded %d blobs", len(blobs))
	}
	huge := bdbFile(512, fuzzHeader)
	binary.LittleEndian.PutUint32(huge[2*512-bdbOffPageLength+8:], 1<<31)
	if blobs := rpmBDBBlobs(huge); len(blobs) != 0 {
		t.Fatalf("a value longer than the file yielded %d blobs", len(blobs))
	}
}

func FuzzParseRPMHeader(f *testing.F) {
	f.Add(fuzzHeader)
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, ok := parseRPMHeader(b); ok && (h.Name == "" || h.Version == "" || h.Release == "") {
			t.Fatalf("%+v", h)
		}
	})
}

// FuzzRPMDB feeds arbitrary NDB and BerkeleyDB files to the readers:
// they must read or give up, never panic, loop or return more than the
// file holds (each reader at most its size). The SQLite container is
// SQLite's own code, tested by TestRPMDatabase's hostile databases.
func FuzzRPMDB(f *testing.F) {
	f.Add(ndbFile(fuzzHeader))
	f.Add(bdbFile(512, fuzzHeader))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, read := range []func([]byte) [][]byte{rpmNDBBlobs, rpmBDBBlobs} {
			total := 0
			for _, blob := range read(b) {
				total += len(blob)
				parseRPMHeader(blob)
			}
			if total > len(b) {
				t.Fatalf("%d bytes of blobs from a %d byte file", total, len(b))
			}
		}
	})
}
