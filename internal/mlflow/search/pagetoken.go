package search

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
)

// Page tokens are MLflow's: base64 of the JSON object {"offset": N}.
// Clients treat them as opaque; MLflow's own tokens (including the
// longer ones of search_logged_models, which carry more fields) decode
// here too.

// maxOffset bounds a decoded offset, so that offset+limit cannot
// overflow and a forged token cannot ask for an absurd skip.
const maxOffset = 1 << 40

// EncodePageToken returns the page token of the page that starts at
// offset.
func EncodePageToken(offset int) string {
	return base64.StdEncoding.EncodeToString([]byte(`{"offset": ` + strconv.Itoa(offset) + `}`))
}

// DecodePageToken reads a page token; "" is offset 0. A token that is
// not base64 of a JSON object with a non-negative integer "offset" is
// INVALID_PARAMETER_VALUE.
func DecodePageToken(token string) (offset int, err error) {
	if token == "" {
		return 0, nil
	}
	raw, ok := decodeBase64(token)
	if !ok {
		return 0, invalidf("Invalid page token %s: could not base64-decode it", quote(token))
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return 0, invalidf("Invalid page token %s: its decoded value is not a JSON object", quote(token))
	}
	v, ok := fields["offset"]
	if !ok {
		return 0, invalidf("Invalid page token %s: it has no offset", quote(token))
	}
	// MLflow writes the offset as a number and accepts a numeric string.
	var s string
	if json.Unmarshal(v, &s) != nil {
		s = string(v)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 || n > maxOffset {
		return 0, invalidf("Invalid page token %s: offset %s is not a non-negative integer", quote(token), string(v))
	}
	return int(n), nil
}

// decodeBase64 accepts standard and URL-safe base64, padded or not, and
// a '+' that a query string turned into a space.
func decodeBase64(s string) ([]byte, bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "+")
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}
