package s3api

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"net/http"
	"strconv"
	"strings"
)

// The additional checksums S3 defines. Current SDKs send CRC32 or
// CRC64NVME by default, as a header or as a trailer of an aws-chunked body.
const (
	algCRC32     = "CRC32"
	algCRC32C    = "CRC32C"
	algCRC64NVME = "CRC64NVME"
	algSHA1      = "SHA1"
	algSHA256    = "SHA256"
)

var checksumAlgorithms = []string{algCRC32, algCRC32C, algCRC64NVME, algSHA1, algSHA256}

// Checksum types: one checksum of the whole object, or (multipart) a
// checksum of the parts' checksums with "-N".
const (
	typeFullObject = "FULL_OBJECT"
	typeComposite  = "COMPOSITE"
)

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	// CRC-64/NVME: polynomial 0xad93d23594c93659, reflected.
	nvme = crc64.MakeTable(0x9a6c9329ac4bc9b5)
)

// newChecksum returns the hash of alg, or nil for an unknown algorithm.
func newChecksum(alg string) hash.Hash {
	switch alg {
	case algCRC32:
		return crc32.NewIEEE()
	case algCRC32C:
		return crc32.New(castagnoli)
	case algCRC64NVME:
		return crc64.New(nvme)
	case algSHA1:
		return sha1.New()
	case algSHA256:
		return sha256.New()
	}
	return nil
}

// checksumSize is the raw size of alg's checksum.
func checksumSize(alg string) int {
	switch alg {
	case algCRC32, algCRC32C:
		return 4
	case algCRC64NVME:
		return 8
	case algSHA1:
		return 20
	case algSHA256:
		return 32
	}
	return 0
}

func checksumHeader(alg string) string { return "x-amz-checksum-" + strings.ToLower(alg) }

// parseAlgorithm normalises an algorithm name ("crc32" → "CRC32").
func parseAlgorithm(s string) (string, bool) {
	a := strings.ToUpper(strings.TrimSpace(s))
	for _, known := range checksumAlgorithms {
		if a == known {
			return a, true
		}
	}
	return "", false
}

// validChecksumValue reports whether v is a base64 checksum of alg.
func validChecksumValue(alg, v string) bool {
	b, err := base64.StdEncoding.DecodeString(v)
	return err == nil && len(b) == checksumSize(alg)
}

// checkChecksumValue refuses a checksum value that cannot be one of alg
// (not base64, or base64 of the wrong length, a hex digest, say): it
// cannot match the content, and S3 answers BadDigest, as to a wrong one.
func checkChecksumValue(alg, v, what string) error {
	if !validChecksumValue(alg, v) {
		return s3Error("BadDigest", "the %s %s you specified is not a valid %s checksum", checksumHeader(alg), what, alg)
	}
	return nil
}

// checksumClaim is what a request declares about an additional checksum.
type checksumClaim struct {
	Alg string // "" when the request declares none
	// Value is the base64 checksum from a header; "" when it comes in a
	// trailer (Trailer set) or not at all (the server computes it).
	Value   string
	Trailer bool
}

// parseChecksumClaim reads x-amz-checksum-*, x-amz-sdk-checksum-algorithm
// and x-amz-trailer of a request carrying an object's bytes.
func parseChecksumClaim(h http.Header) (checksumClaim, error) {
	var c checksumClaim
	for _, alg := range checksumAlgorithms {
		v := h.Get(checksumHeader(alg))
		if v == "" {
			continue
		}
		if c.Alg != "" {
			return c, s3Error("InvalidRequest", "expecting a single x-amz-checksum- header; multiple checksum types are not allowed")
		}
		if err := checkChecksumValue(alg, v, "header"); err != nil {
			return c, err
		}
		c.Alg, c.Value = alg, v
	}
	if t := h.Get("X-Amz-Trailer"); t != "" {
		name := strings.ToLower(strings.TrimSpace(t))
		alg, ok := strings.CutPrefix(name, "x-amz-checksum-")
		a, known := parseAlgorithm(alg)
		if !ok || !known || strings.Contains(name, ",") {
			return c, s3Error("InvalidRequest", "unsupported x-amz-trailer %q: want one x-amz-checksum-<algorithm>", clip(t))
		}
		if c.Alg != "" {
			return c, s3Error("InvalidRequest", "expecting a single x-amz-checksum- header or trailer")
		}
		c.Alg, c.Trailer = a, true
	}
	if v := h.Get("X-Amz-Sdk-Checksum-Algorithm"); v != "" {
		a, ok := parseAlgorithm(v)
		if !ok {
			return c, s3Error("InvalidRequest", "unsupported x-amz-sdk-checksum-algorithm %q", clip(v))
		}
		if c.Alg != "" && c.Alg != a {
			return c, s3Error("InvalidRequest", "x-amz-sdk-checksum-algorithm %s does not match the checksum sent (%s)", a, c.Alg)
		}
		c.Alg = a
	}
	return c, nil
}

// checksums are the additional checksums stored with an object or part.
type checksums struct {
	Type   string            `json:"type,omitempty"`
	Values map[string]string `json:"values,omitempty"` // algorithm → base64 (composite: "...-N")
	// Parts are the parts' checksums of a multipart object, in the
	// algorithm of Values, by part number ("" for a part without one).
	Parts []string `json:"parts,omitempty"`
}

// setPartHeaders writes part n's (from 1) stored checksum, if any.
func (c checksums) setPartHeaders(h http.Header, n int) {
	if n < 1 || n > len(c.Parts) || c.Parts[n-1] == "" || len(c.Values) != 1 {
		return
	}
	for alg := range c.Values {
		h[checksumHeader(alg)] = []string{c.Parts[n-1]}
	}
	if c.Type != "" {
		h["x-amz-checksum-type"] = []string{c.Type}
	}
}

func (c checksums) encode() string {
	if len(c.Values) == 0 {
		return ""
	}
	b, _ := json.Marshal(c)
	return string(b)
}

func decodeChecksums(s string) checksums {
	var c checksums
	if s != "" {
		json.Unmarshal([]byte(s), &c)
	}
	return c
}

// setHeaders writes the stored checksums as x-amz-checksum-* headers.
func (c checksums) setHeaders(h http.Header) {
	for alg, v := range c.Values {
		h[checksumHeader(alg)] = []string{v}
	}
	if len(c.Values) > 0 && c.Type != "" {
		h["x-amz-checksum-type"] = []string{c.Type}
	}
}

// composite combines part checksums (base64) into "base64(alg(raw parts))-N".
func composite(alg string, parts []string) (string, bool) {
	h := newChecksum(alg)
	for _, p := range parts {
		b, err := base64.StdEncoding.DecodeString(p)
		if err != nil || len(b) != checksumSize(alg) {
			return "", false
		}
		h.Write(b)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts)), true
}

// completeClaim is the object checksum a CompleteMultipartUpload request
// states in an x-amz-checksum-<algorithm> header: a full-object value, or
// a composite "<base64>-N" (Parts = N).
type completeClaim struct {
	Alg, Value string
	Parts      int
}

// parseCompleteClaim reads the x-amz-checksum-* and x-amz-checksum-type
// headers of CompleteMultipartUpload.
func parseCompleteClaim(h http.Header) (completeClaim, error) {
	var c completeClaim
	for _, alg := range checksumAlgorithms {
		v := h.Get(checksumHeader(alg))
		if v == "" {
			continue
		}
		if c.Alg != "" {
			return completeClaim{}, s3Error("InvalidRequest", "expecting a single x-amz-checksum- header; multiple checksum types are not allowed")
		}
		c.Alg, c.Value = alg, v
		b64, n, composed := strings.Cut(v, "-")
		if composed {
			parts, err := strconv.Atoi(n)
			if err != nil || parts < 1 || parts > 10000 || strconv.Itoa(parts) != n {
				return completeClaim{}, s3Error("InvalidRequest", "value for %s header is invalid", checksumHeader(alg))
			}
			c.Parts = parts
		}
		if err := checkChecksumValue(alg, b64, "header"); err != nil {
			return completeClaim{}, err
		}
	}
	switch t := strings.ToUpper(h.Get("X-Amz-Checksum-Type")); {
	case t == "":
	case t != typeFullObject && t != typeComposite:
		return completeClaim{}, s3Error("InvalidRequest", "x-amz-checksum-type must be FULL_OBJECT or COMPOSITE")
	case c.Alg != "" && (t == typeComposite) != (c.Parts > 0):
		return completeClaim{}, s3Error("InvalidRequest", "the %s checksum value does not have the form of x-amz-checksum-type %s", c.Alg, t)
	}
	return c, nil
}

// withoutChecksumHeaders is r with none of the headers that declare an
// additional checksum of its body: on CompleteMultipartUpload they
// describe the object.
func withoutChecksumHeaders(r *http.Request) *http.Request {
	r2 := *r
	r2.Header = r.Header.Clone()
	for _, alg := range checksumAlgorithms {
		r2.Header.Del(checksumHeader(alg))
	}
	r2.Header.Del("X-Amz-Sdk-Checksum-Algorithm")
	return &r2
}
