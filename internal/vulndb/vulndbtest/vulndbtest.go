// Package vulndbtest builds OSV export zips for tests from a few real
// advisories (their IDs, packages and version ranges as published; the
// texts shortened), so that no test needs the network.
package vulndbtest

import (
	"archive/zip"
	"bytes"
	"testing"
)

// Records are OSV records keyed by the ecosystem whose export holds them.
var Records = map[string][]string{
	// requests before 2.20.0 sends the Authorization header on an HTTPS
	// to HTTP redirect. NVD rates it 9.8 (CVSS 3.0).
	"PyPI": {`{
  "id": "GHSA-x84v-xcm2-53pg", "modified": "2024-09-25T18:57:15Z",
  "aliases": ["CVE-2018-18074", "PYSEC-2018-28"],
  "summary": "Insufficiently Protected Credentials in Requests",
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
  "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.20.0"}]}]}],
  "database_specific": {"severity": "HIGH"}
}`},
	// lodash before 4.17.19: prototype pollution in zipObjectDeep.
	"npm": {`{
  "id": "GHSA-p6mc-m468-83gw", "modified": "2024-02-16T08:07:14Z",
  "aliases": ["CVE-2020-8203"],
  "summary": "Prototype Pollution in lodash",
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H"}],
  "affected": [{"package": {"ecosystem": "npm", "name": "lodash"},
    "ranges": [{"type": "SEMVER", "events": [{"introduced": "3.7.0"}, {"fixed": "4.17.19"}]}]}],
  "database_specific": {"severity": "HIGH"}
}`, `{
  "id": "GHSA-jf85-cpcp-j695", "modified": "2023-11-01T00:00:00Z",
  "aliases": ["CVE-2019-10744"],
  "summary": "Prototype Pollution in lodash",
  "affected": [{"package": {"ecosystem": "npm", "name": "lodash"},
    "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "4.17.12"}]}]}],
  "database_specific": {"severity": "CRITICAL"}
}`},
	// zlib's inflateGetHeader heap overflow (CVE-2022-37434): Debian 11's
	// zlib 1:1.2.11.dfsg-2+deb11u1 and Alpine 3.16's zlib before
	// 1.2.12-r2. Neither database rates it: the severity is Unknown.
	"Debian": {`{
  "id": "DSA-5218-1", "modified": "2022-08-14T00:00:00Z",
  "aliases": ["CVE-2022-37434"],
  "summary": "zlib - security update",
  "affected": [{"package": {"ecosystem": "Debian:11", "name": "zlib"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:1.2.11.dfsg-2+deb11u2"}]}]}]
}`},
	"Alpine": {`{
  "id": "ALPINE-CVE-2022-37434", "modified": "2022-08-20T00:00:00Z",
  "aliases": ["CVE-2022-37434"],
  "affected": [{"package": {"ecosystem": "Alpine:v3.16", "name": "zlib"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2.12-r2"}]}]}]
}`},
	// Log4Shell: log4j-core from 2.13.0 before 2.15.0 (one of the
	// record's ranges), CVSS 3.1 10.0.
	"Maven": {`{
  "id": "GHSA-jfh8-c2jp-5v3q", "modified": "2024-07-24T00:00:00Z",
  "aliases": ["CVE-2021-44228"],
  "summary": "Remote code injection in Log4j",
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"}],
  "affected": [{"package": {"ecosystem": "Maven", "name": "org.apache.logging.log4j:log4j-core"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.13.0"}, {"fixed": "2.15.0"}]}]}],
  "database_specific": {"severity": "CRITICAL"}
}`},
	// golang.org/x/text before 0.3.7: out-of-bounds read in
	// language.ParseAcceptLanguage, CVSS 3.1 7.5.
	"Go": {`{
  "id": "GHSA-ppp9-7jff-5vj2", "modified": "2023-02-01T00:00:00Z",
  "aliases": ["CVE-2021-38561", "GO-2021-0113"],
  "summary": "Out-of-bounds read in golang.org/x/text/language",
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}],
  "affected": [{"package": {"ecosystem": "Go", "name": "golang.org/x/text"},
    "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "0.3.7"}]}]}],
  "database_specific": {"severity": "HIGH"}
}`},
	// RHSA-2023:3722, RHEL 9's openssl update (CVE-2023-0464 and four
	// more), keyed as Red Hat's records are: by source package, once per
	// repository of the release, the epoch spelled out. Its severity here
	// is NVD's CVSS 3.1 vector of CVE-2023-0464 (7.5).
	"Red Hat": {`{
  "id": "RHSA-2023:3722", "modified": "2024-11-22T00:00:00Z",
  "aliases": ["CVE-2023-0464", "CVE-2023-0465", "CVE-2023-0466", "CVE-2023-1255", "CVE-2023-2650"],
  "summary": "Important: openssl security and bug fix update",
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}],
  "affected": [{"package": {"ecosystem": "Red Hat:enterprise_linux:9::appstream", "name": "openssl"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:3.0.7-16.el9_2"}]}]},
   {"package": {"ecosystem": "Red Hat:enterprise_linux:9::baseos", "name": "openssl"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:3.0.7-16.el9_2"}]}]}]
}`},
}

// Zip is one ecosystem's export: its records as <id>.json entries.
func Zip(t testing.TB, ecosystem string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i, rec := range Records[ecosystem] {
		w, err := zw.Create(string(rune('a'+i)) + ".json")
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(rec))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Ecosystems are the ecosystems most tests import (Records also holds
// Maven's, Go's and Red Hat's, which the package and RPM scanning tests
// import themselves).
func Ecosystems() []string { return []string{"PyPI", "npm", "Debian", "Alpine"} }
