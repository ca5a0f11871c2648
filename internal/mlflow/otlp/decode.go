// Package otlp reads OTLP/HTTP trace exports (ExportTraceServiceRequest,
// https://opentelemetry.io/docs/specs/otlp/#otlphttp) as MLflow's tracking
// server accepts them at /v1/traces, and writes the protocol's answers.
// It only parses and encodes; storing the spans is the caller's.
//
// The messages are the official generated types of
// go.opentelemetry.io/proto/otlp, read with protobuf's proto and protojson.
package otlp

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/arcaproject/arca/internal/errs"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
)

// Encoding is how a request body is written, and so how its answer is.
type Encoding int

const (
	Protobuf Encoding = iota // application/x-protobuf
	JSON                     // application/json
)

// Media types of the two encodings.
const (
	ContentTypeProtobuf = "application/x-protobuf"
	ContentTypeJSON     = "application/json"
)

// ContentType is the media type of e.
func (e Encoding) ContentType() string {
	if e == JSON {
		return ContentTypeJSON
	}
	return ContentTypeProtobuf
}

// EncodingOf reads a request's Content-Type (parameters such as charset
// are ignored). Anything but the two OTLP encodings is refused, as MLflow
// refuses it, with errs.Invalid.
func EncodingOf(contentType string) (Encoding, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
	}
	switch mt {
	case ContentTypeProtobuf:
		return Protobuf, nil
	case ContentTypeJSON:
		return JSON, nil
	}
	return Protobuf, errs.E(errs.Invalid, "invalid Content-Type %q: want %s or %s", clip(contentType, 64), ContentTypeProtobuf, ContentTypeJSON)
}

// Limits bound what one export may cost.
type Limits struct {
	Body         int64 // bytes on the wire
	Decompressed int64 // bytes after Content-Encoding is undone
}

// ReadBody reads at most lim.Body bytes of r and undoes contentEncoding
// (identity, gzip or deflate, zlib-wrapped or raw) into at most
// lim.Decompressed bytes. A body past either bound is errs.TooLarge; one
// that does not decompress, or an unknown encoding, is errs.Invalid.
func ReadBody(r io.Reader, contentEncoding string, lim Limits) ([]byte, error) {
	raw, err := readBounded(r, lim.Body)
	if err != nil {
		return nil, err
	}
	switch enc := strings.ToLower(strings.TrimSpace(contentEncoding)); enc {
	case "", "identity":
		if int64(len(raw)) > lim.Decompressed {
			return nil, tooLarge(lim.Decompressed)
		}
		return raw, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, errs.E(errs.Invalid, "failed to decompress gzip payload: %v", err)
		}
		return inflate(zr, "gzip", lim.Decompressed)
	case "deflate":
		if zr, err := zlib.NewReader(bytes.NewReader(raw)); err == nil {
			if b, err := inflate(zr, "deflate", lim.Decompressed); err == nil || errs.Is(err, errs.TooLarge) {
				return b, err
			}
		}
		return inflate(flate.NewReader(bytes.NewReader(raw)), "deflate", lim.Decompressed)
	default:
		return nil, errs.E(errs.Invalid, "unsupported Content-Encoding %q: want gzip, deflate or identity", clip(enc, 32))
	}
}

func readBounded(r io.Reader, n int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, n+1))
	if err != nil {
		return nil, errs.E(errs.Invalid, "reading the request body: %v", err)
	}
	if int64(len(b)) > n {
		return nil, tooLarge(n)
	}
	return b, nil
}

func inflate(r io.ReadCloser, name string, n int64) ([]byte, error) {
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, n+1))
	if int64(len(b)) > n {
		return nil, tooLarge(n)
	}
	if err != nil {
		return nil, errs.E(errs.Invalid, "failed to decompress %s payload: %v", name, err)
	}
	return b, nil
}

func tooLarge(n int64) error {
	return errs.E(errs.TooLarge, "the export is larger than %d bytes; export fewer spans per request", n)
}

// Decode parses an ExportTraceServiceRequest. JSON follows OTLP's JSON
// encoding: trace and span IDs are hex (not protobuf's base64), field
// names lowerCamelCase or as in the .proto, unknown fields ignored. A
// request without resource spans is refused, as MLflow refuses it.
func Decode(body []byte, enc Encoding) (*coltracepb.ExportTraceServiceRequest, error) {
	req := &coltracepb.ExportTraceServiceRequest{}
	var err error
	if enc == JSON {
		body, err = hexIDsToBase64(body)
		if err == nil {
			err = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(body, req)
		}
	} else {
		err = proto.Unmarshal(body, req)
	}
	if err != nil {
		return nil, errs.E(errs.Invalid, "invalid OpenTelemetry format: %s", clip(err.Error(), 200))
	}
	if len(req.GetResourceSpans()) == 0 {
		return nil, errs.E(errs.Invalid, "invalid OpenTelemetry format: no spans found")
	}
	return req, nil
}

// hexIDsToBase64 rewrites the ID fields of OTLP JSON (hex) as protojson
// reads bytes (base64), leaving every other byte of the document as sent.
func hexIDsToBase64(body []byte) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, err
	}
	err := rewriteList(doc, []string{"resourceSpans", "resource_spans"}, func(rs map[string]json.RawMessage) error {
		return rewriteList(rs, []string{"scopeSpans", "scope_spans"}, func(ss map[string]json.RawMessage) error {
			return rewriteList(ss, []string{"spans"}, func(sp map[string]json.RawMessage) error {
				if err := rewriteIDs(sp); err != nil {
					return err
				}
				return rewriteList(sp, []string{"links"}, rewriteIDs)
			})
		})
	})
	if err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}

// rewriteList applies fn to each object of the array in obj under any of
// names, writing the results back.
func rewriteList(obj map[string]json.RawMessage, names []string, fn func(map[string]json.RawMessage) error) error {
	for _, name := range names {
		raw, ok := obj[name]
		if !ok || string(raw) == "null" {
			continue
		}
		var items []map[string]json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return err
		}
		for _, it := range items {
			if it == nil {
				continue
			}
			if err := fn(it); err != nil {
				return err
			}
		}
		b, err := json.Marshal(items)
		if err != nil {
			return err
		}
		obj[name] = b
	}
	return nil
}

var idFields = []string{"traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id"}

func rewriteIDs(obj map[string]json.RawMessage) error {
	for _, f := range idFields {
		raw, ok := obj[f]
		if !ok || string(raw) == "null" {
			continue
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return errors.New(f + " must be a hex string")
		}
		b, err := hex.DecodeString(s)
		if err != nil {
			return errors.New(f + " must be a hex string")
		}
		obj[f], _ = json.Marshal(base64.StdEncoding.EncodeToString(b))
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
