package otlp

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// RequestIDAttribute is the attribute MLflow's server adds to every stored
// span: the MLflow trace ID.
const RequestIDAttribute = "mlflow.traceRequestId"

// Span is one exported span as MLflow keeps it.
type Span struct {
	TraceID  string // 32 lowercase hex digits (the MLflow trace is "tr-" + TraceID)
	SpanID   string // 16 lowercase hex digits
	ParentID string // "" for a root span
	Name     string
	Start    int64  // Unix nanoseconds
	End      int64  // Unix nanoseconds; 0 while the span runs
	Status   string // MLflow's span status: OK, ERROR or UNSET

	// Attributes are the span's attributes as MLflow's server stores them
	// (see Stored).
	Attributes map[string]string
	// Resource are the attributes of the span's resource, the same way.
	Resource map[string]string
	// Resource values that are plain strings, unencoded.
	ResourceText map[string]string

	// Content is the span as OTLP's protobuf JSON (field names as in the
	// .proto), what GetTrace answers with: string attributes holding JSON
	// are unwrapped (see Unwrap) and mlflow.traceRequestId is added, as
	// MLflow's server answers.
	Content []byte
}

// Root reports whether the span has no parent.
func (s *Span) Root() bool { return s.ParentID == "" }

// Rejected counts spans of an export that are not accepted, and says why
// (the first reason), for ExportTracePartialSuccess.
type Rejected struct {
	Spans   int64
	Message string
}

// Add records n rejected spans.
func (r *Rejected) Add(n int64, format string, args ...any) {
	if n <= 0 {
		return
	}
	if r.Spans == 0 {
		r.Message = fmt.Sprintf(format, args...)
	}
	r.Spans += n
}

// Spans flattens an export into its spans. A span without a 16-byte trace
// ID and an 8-byte span ID (or with a parent ID of another length) is
// rejected rather than failing the whole export.
func Spans(req *coltracepb.ExportTraceServiceRequest) ([]Span, Rejected) {
	var out []Span
	var rej Rejected
	marshal := protojson.MarshalOptions{UseProtoNames: true}
	for _, rs := range req.GetResourceSpans() {
		res := map[string]string{}
		resText := map[string]string{}
		for _, kv := range rs.GetResource().GetAttributes() {
			res[kv.GetKey()] = Dump(kv.GetValue())
			if sv, ok := kv.GetValue().GetValue().(*commonpb.AnyValue_StringValue); ok {
				resText[kv.GetKey()] = sv.StringValue
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				s, err := convert(sp)
				if err != nil {
					rej.Add(1, "span %q: %v", clip(sp.GetName(), 64), err)
					continue
				}
				s.Resource, s.ResourceText = res, resText
				sp.Attributes = append(sp.Attributes, &commonpb.KeyValue{Key: RequestIDAttribute,
					Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "tr-" + s.TraceID}}})
				content, err := marshal.Marshal(sp)
				if err != nil {
					rej.Add(1, "span %q: %v", clip(sp.GetName(), 64), err)
					continue
				}
				s.Content = content
				out = append(out, s)
			}
		}
	}
	return out, rej
}

func convert(sp *tracepb.Span) (Span, error) {
	if len(sp.GetTraceId()) != 16 || isZero(sp.GetTraceId()) {
		return Span{}, fmt.Errorf("trace_id must be 16 bytes, not all zero")
	}
	if len(sp.GetSpanId()) != 8 || isZero(sp.GetSpanId()) {
		return Span{}, fmt.Errorf("span_id must be 8 bytes, not all zero")
	}
	if p := sp.GetParentSpanId(); len(p) != 0 && len(p) != 8 {
		return Span{}, fmt.Errorf("parent_span_id must be empty or 8 bytes")
	}
	if sp.GetStartTimeUnixNano() > math.MaxInt64 || sp.GetEndTimeUnixNano() > math.MaxInt64 {
		return Span{}, fmt.Errorf("start and end times must be Unix nanoseconds")
	}
	if !utf8.ValidString(sp.GetName()) {
		return Span{}, fmt.Errorf("the name is not UTF-8")
	}
	s := Span{
		TraceID: hex.EncodeToString(sp.GetTraceId()),
		SpanID:  hex.EncodeToString(sp.GetSpanId()),
		Name:    sp.GetName(),
		Start:   int64(sp.GetStartTimeUnixNano()),
		End:     int64(sp.GetEndTimeUnixNano()),
		Status:  "UNSET",
	}
	if p := sp.GetParentSpanId(); len(p) == 8 && !isZero(p) {
		s.ParentID = hex.EncodeToString(p)
	}
	switch sp.GetStatus().GetCode() {
	case tracepb.Status_STATUS_CODE_OK:
		s.Status = "OK"
	case tracepb.Status_STATUS_CODE_ERROR:
		s.Status = "ERROR"
	}
	s.Attributes = make(map[string]string, len(sp.GetAttributes()))
	for _, kv := range sp.GetAttributes() {
		s.Attributes[kv.GetKey()] = Stored(kv.GetValue())
		if v := Unwrap(kv.GetValue()); v != nil {
			kv.Value = v
		}
	}
	return s, nil
}

// Stored is an attribute value as MLflow's server stores it: written by
// Dump, except that a string holding the JSON text of a string, an object
// or an array (an application that JSON-encoded its value itself, as
// MLflow's own attributes are) is stored as that text, not encoded again.
func Stored(v *commonpb.AnyValue) string {
	if sv, ok := v.GetValue().(*commonpb.AnyValue_StringValue); ok {
		if t := jsonKind(sv.StringValue); t == '"' || t == '{' || t == '[' {
			return sv.StringValue
		}
	}
	return Dump(v)
}

// Unwrap returns the value MLflow's server answers for an attribute whose
// Stored text is JSON it decodes again: a string attribute holding the
// JSON of a string, object or array becomes that value (objects as
// key/value lists in their order). It returns nil for any other value,
// which is answered as sent.
func Unwrap(v *commonpb.AnyValue) *commonpb.AnyValue {
	sv, ok := v.GetValue().(*commonpb.AnyValue_StringValue)
	if !ok {
		return nil
	}
	if t := jsonKind(sv.StringValue); t != '"' && t != '{' && t != '[' {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(sv.StringValue))
	dec.UseNumber()
	out, err := anyValue(dec, 0)
	if err != nil {
		return nil
	}
	return out
}

// jsonKind returns the first byte of s when s is one whole JSON value, 0
// otherwise.
func jsonKind(s string) byte {
	t := strings.TrimLeft(s, " \t\r\n")
	if t == "" || !json.Valid([]byte(s)) {
		return 0
	}
	return t[0]
}

// anyValue reads the next JSON value of dec as an AnyValue.
func anyValue(dec *json.Decoder, depth int) (*commonpb.AnyValue, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch x := tok.(type) {
	case nil:
		return &commonpb.AnyValue{}, nil
	case bool:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: x}}, nil
	case string:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: x}}, nil
	case json.Number:
		if !strings.ContainsAny(string(x), ".eE") {
			if i, err := x.Int64(); err == nil {
				return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: i}}, nil
			}
		}
		f, err := x.Float64()
		if err != nil {
			return nil, err
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: f}}, nil
	case json.Delim:
		switch x {
		case '[':
			arr := &commonpb.ArrayValue{}
			for dec.More() {
				e, err := anyValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				arr.Values = append(arr.Values, e)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: arr}}, nil
		case '{':
			kvs := &commonpb.KeyValueList{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := k.(string)
				e, err := anyValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				kvs.Values = append(kvs.Values, &commonpb.KeyValue{Key: key, Value: e})
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: kvs}}, nil
		}
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Dump writes an attribute value as MLflow's server stores it: the value
// decoded to Python and written by json.dumps (", " and ": " separators,
// non-ASCII kept, Python's float repr, key/value lists in their order).
func Dump(v *commonpb.AnyValue) string {
	var b strings.Builder
	dump(&b, v, 0)
	return b.String()
}

// maxDepth bounds the nesting Dump follows (protobuf's own decoder stops
// at 100 levels too).
const maxDepth = 100

func dump(b *strings.Builder, v *commonpb.AnyValue, depth int) {
	if depth > maxDepth {
		b.WriteString("null")
		return
	}
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		quote(b, x.StringValue)
	case *commonpb.AnyValue_BoolValue:
		b.WriteString(strconv.FormatBool(x.BoolValue))
	case *commonpb.AnyValue_IntValue:
		b.WriteString(strconv.FormatInt(x.IntValue, 10))
	case *commonpb.AnyValue_DoubleValue:
		b.WriteString(pyFloat(x.DoubleValue))
	case *commonpb.AnyValue_BytesValue:
		quote(b, base64.StdEncoding.EncodeToString(x.BytesValue))
	case *commonpb.AnyValue_ArrayValue:
		b.WriteByte('[')
		for i, e := range x.ArrayValue.GetValues() {
			if i > 0 {
				b.WriteString(", ")
			}
			dump(b, e, depth+1)
		}
		b.WriteByte(']')
	case *commonpb.AnyValue_KvlistValue:
		b.WriteByte('{')
		for i, kv := range x.KvlistValue.GetValues() {
			if i > 0 {
				b.WriteString(", ")
			}
			quote(b, kv.GetKey())
			b.WriteString(": ")
			dump(b, kv.GetValue(), depth+1)
		}
		b.WriteByte('}')
	default:
		b.WriteString("null")
	}
}

// quote writes s as a JSON string the way json.dumps(ensure_ascii=False)
// does.
func quote(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 {
				fmt.Fprintf(b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// pyFloat is Python's repr of a float, as json.dumps writes it.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	exp := int(math.Floor(math.Log10(math.Abs(f))))
	// Log10 can land one off near powers of ten; the shortest 'e' form
	// knows the true exponent.
	e := strconv.FormatFloat(f, 'e', -1, 64)
	if i := strings.IndexByte(e, 'e'); i >= 0 {
		exp, _ = strconv.Atoi(e[i+1:])
	}
	if exp < -4 || exp >= 16 {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}
