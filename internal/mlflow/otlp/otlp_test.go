package otlp

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/arcaproject/arca/internal/errs"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

func str(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}

func TestEncodingOf(t *testing.T) {
	for ct, want := range map[string]Encoding{
		"application/x-protobuf":          Protobuf,
		"application/json":                JSON,
		"application/json; charset=utf-8": JSON,
		"Application/JSON":                JSON,
	} {
		if got, err := EncodingOf(ct); err != nil || got != want {
			t.Errorf("%q: %v %v", ct, got, err)
		}
	}
	for _, ct := range []string{"", "text/plain", "application/grpc", "application/protobuf"} {
		if _, err := EncodingOf(ct); !errs.Is(err, errs.Invalid) {
			t.Errorf("%q: %v, want invalid", ct, err)
		}
	}
}

func TestReadBody(t *testing.T) {
	payload := []byte(strings.Repeat("span ", 100))
	var gz, zl, raw bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(payload)
	w.Close()
	z := zlib.NewWriter(&zl)
	z.Write(payload)
	z.Close()
	f, _ := flate.NewWriter(&raw, flate.BestSpeed)
	f.Write(payload)
	f.Close()
	lim := Limits{Body: 1 << 20, Decompressed: 1 << 20}
	for _, c := range []struct {
		enc  string
		body []byte
	}{{"", payload}, {"identity", payload}, {"gzip", gz.Bytes()}, {"GZIP", gz.Bytes()}, {"deflate", zl.Bytes()}, {"deflate", raw.Bytes()}} {
		got, err := ReadBody(bytes.NewReader(c.body), c.enc, lim)
		if err != nil || !bytes.Equal(got, payload) {
			t.Errorf("%s: %q %v", c.enc, got, err)
		}
	}
	if _, err := ReadBody(bytes.NewReader(payload), "", Limits{Body: 10, Decompressed: 1 << 20}); !errs.Is(err, errs.TooLarge) {
		t.Errorf("body over the limit: %v", err)
	}
	if _, err := ReadBody(bytes.NewReader(gz.Bytes()), "gzip", Limits{Body: 1 << 20, Decompressed: 100}); !errs.Is(err, errs.TooLarge) {
		t.Errorf("inflated body over the limit: %v", err)
	}
	if _, err := ReadBody(bytes.NewReader(payload), "gzip", lim); !errs.Is(err, errs.Invalid) {
		t.Errorf("not gzip: %v", err)
	}
	if _, err := ReadBody(bytes.NewReader(payload), "zstd", lim); !errs.Is(err, errs.Invalid) {
		t.Errorf("unknown encoding: %v", err)
	}
}

func TestDecodeJSONHexIDs(t *testing.T) {
	doc := `{"resource_spans": [{"scope_spans": [{"spans": [{"trace_id": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
		"parentSpanId": "eee19b7ec3c1b173", "name": "x", "links": [{"traceId": "5b8efff798038103d269b633813fc60d", "spanId": "eee19b7ec3c1b175"}]}]}]}]}`
	req, err := Decode([]byte(doc), JSON)
	if err != nil {
		t.Fatal(err)
	}
	spans, rej := Spans(req)
	if rej.Spans != 0 || len(spans) != 1 {
		t.Fatalf("%v %v", spans, rej)
	}
	s := spans[0]
	if s.TraceID != "5b8efff798038103d269b633813fc60c" || s.SpanID != "eee19b7ec3c1b174" || s.ParentID != "eee19b7ec3c1b173" {
		t.Fatalf("IDs: %+v", s)
	}
	link := req.ResourceSpans[0].ScopeSpans[0].Spans[0].Links[0]
	if len(link.TraceId) != 16 || len(link.SpanId) != 8 {
		t.Fatalf("link IDs: %x %x", link.TraceId, link.SpanId)
	}
}

func TestSpansRejectsMalformed(t *testing.T) {
	tid := bytes.Repeat([]byte{1}, 16)
	sid := bytes.Repeat([]byte{2}, 8)
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
		{TraceId: tid, SpanId: sid, Name: "good"},
		{TraceId: tid[:8], SpanId: sid, Name: "short trace id"},
		{TraceId: make([]byte, 16), SpanId: sid, Name: "zero trace id"},
		{TraceId: tid, Name: "no span id"},
		{TraceId: tid, SpanId: sid, ParentSpanId: []byte{1}, Name: "bad parent"},
		{TraceId: tid, SpanId: sid, StartTimeUnixNano: math.MaxUint64, Name: "time out of range"},
	}}}}}}
	spans, rej := Spans(req)
	if len(spans) != 1 || spans[0].Name != "good" || rej.Spans != 5 || !strings.Contains(rej.Message, "short trace id") {
		t.Fatalf("%d spans, %+v", len(spans), rej)
	}
}

func TestStoredAndUnwrap(t *testing.T) {
	kv := func(pairs ...any) *commonpb.AnyValue {
		l := &commonpb.KeyValueList{}
		for i := 0; i < len(pairs); i += 2 {
			l.Values = append(l.Values, &commonpb.KeyValue{Key: pairs[i].(string), Value: pairs[i+1].(*commonpb.AnyValue)})
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: l}}
	}
	num := func(f float64) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: f}}
	}
	for _, c := range []struct {
		in   *commonpb.AnyValue
		want string
	}{
		{str("Paris"), `"Paris"`},
		{str(`{"a": 1}`), `{"a": 1}`}, // JSON text is kept, not encoded again
		{str(`"AGENT"`), `"AGENT"`},
		{str(`[1,2]`), `[1,2]`},
		{str(`12`), `"12"`}, // a number in a string stays a string
		{str("é\n\"\x01"), `"é\n\"\u0001"`},
		{&commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: -3}}, `-3`},
		{&commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}}, `true`},
		{num(1), `1.0`},
		{num(0.1), `0.1`},
		{num(1e16), `1e+16`},
		{num(1.5e-5), `1.5e-05`},
		{num(123456789012345.6), `123456789012345.6`},
		{num(math.Inf(-1)), `-Infinity`},
		{kv("b", str("x"), "a", num(2)), `{"b": "x", "a": 2.0}`},
		{&commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{str("a"), {}}}}}, `["a", null]`},
		{&commonpb.AnyValue{}, `null`},
	} {
		if got := Stored(c.in); got != c.want {
			t.Errorf("Stored(%v) = %s, want %s", c.in, got, c.want)
		}
	}
	u := Unwrap(str(`{"q": "hi", "n": [1, 2.5, true, null]}`))
	if got := Stored(u); got != `{"q": "hi", "n": [1, 2.5, true, null]}` {
		t.Errorf("Unwrap: %s", got)
	}
	if Unwrap(str("plain")) != nil || Unwrap(str("7")) != nil || Unwrap(num(1)) != nil {
		t.Error("Unwrap changed a value MLflow answers as sent")
	}
}

// FuzzDecode: no body, in either encoding, makes Decode or Spans panic,
// and every span Spans returns has well-formed IDs.
func FuzzDecode(f *testing.F) {
	good, _ := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{
		{TraceId: bytes.Repeat([]byte{1}, 16), SpanId: bytes.Repeat([]byte{2}, 8), Name: "s",
			Attributes: []*commonpb.KeyValue{{Key: "k", Value: str(`{"a": [1, {"b": null}]}`)}}},
	}}}}}})
	f.Add(good, false)
	f.Add([]byte(`{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "attributes": [{"key": "x", "value": {"stringValue": "[1]"}}]}]}]}]}`), true)
	f.Add([]byte(`{"resourceSpans": [null, {"scopeSpans": null}]}`), true)
	f.Add([]byte{0x0a, 0x00}, false)
	f.Fuzz(func(t *testing.T, body []byte, asJSON bool) {
		enc := Protobuf
		if asJSON {
			enc = JSON
		}
		req, err := Decode(body, enc)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("error of kind %v: %v", errs.KindOf(err), err)
			}
			return
		}
		spans, _ := Spans(req)
		for _, s := range spans {
			if len(s.TraceID) != 32 || len(s.SpanID) != 16 || (s.ParentID != "" && len(s.ParentID) != 16) || s.Start < 0 || s.End < 0 {
				t.Fatalf("malformed span accepted: %+v", s)
			}
			for _, v := range s.Attributes {
				if !utf8Valid(v) {
					t.Fatalf("attribute value not UTF-8: %q", v)
				}
			}
		}
	})
}

// FuzzReadBody: decompression stays within its limits whatever the body.
func FuzzReadBody(f *testing.F) {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(bytes.Repeat([]byte("a"), 5000))
	w.Close()
	f.Add(gz.Bytes(), "gzip")
	f.Add([]byte("x"), "deflate")
	f.Add([]byte("x"), "")
	f.Fuzz(func(t *testing.T, body []byte, enc string) {
		lim := Limits{Body: 1 << 16, Decompressed: 1 << 12}
		b, err := ReadBody(bytes.NewReader(body), enc, lim)
		if err == nil && int64(len(b)) > lim.Decompressed {
			t.Fatalf("%d bytes past the limit", len(b))
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }
