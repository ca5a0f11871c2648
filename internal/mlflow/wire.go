package mlflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
)

// maxRequestBody bounds a JSON request message. A full log-batch (1000
// metrics, 100 params of 6000 characters, 100 tags of 8000) fits well.
const maxRequestBody = 16 << 20

// decode reads a request message as MLflow's server does: from the query
// string for GET (a repeated field may repeat its parameter), from the JSON
// body otherwise. Unknown fields are ignored, as newer clients send fields
// older servers do not know. v must point to a struct whose fields carry
// json tags.
func decode(r *http.Request, v any) error {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return decodeQuery(r, v)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxRequestBody))
	if err != nil {
		return badRequest("reading the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		// Some calls (DELETE with a query string) carry their message in the URL.
		return decodeQuery(r, v)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return jsonError(err)
	}
	return nil
}

// jsonError maps a decoding error: a field of the wrong type (or a value
// that Int64, Float, Bool or an enum refuses) is INVALID_PARAMETER_VALUE,
// as MLflow answers it; unparsable JSON is BAD_REQUEST.
func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var e *errs.Error
	switch {
	case errors.As(err, &e):
		return err
	case errors.As(err, &typeErr):
		return invalidParam("invalid value for parameter '%s': want %s", typeErr.Field, typeErr.Type)
	}
	return badRequest("malformed JSON request: %v", err)
}

// decodeQuery fills v from the query string: repeated fields take every
// value of their parameter, the others the first.
func decodeQuery(r *http.Request, v any) error {
	q := r.URL.Query()
	if len(q) == 0 {
		return nil
	}
	t := reflect.TypeOf(v).Elem()
	m := make(map[string]any, len(q))
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		vals, ok := q[name]
		if !ok || name == "" || name == "-" {
			continue
		}
		if f.Type.Kind() == reflect.Slice {
			m[name] = vals
		} else {
			m[name] = vals[0]
		}
	}
	b, _ := json.Marshal(m)
	if err := json.Unmarshal(b, v); err != nil {
		return jsonError(err)
	}
	return nil
}

// reply writes a response message.
func reply(w http.ResponseWriter, v any) error {
	if v == nil {
		v = struct{}{}
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

// Int64 is a protobuf int64 in JSON: written as a number (as MLflow's
// server does), read from a number or a string (as protobuf's JSON
// parser accepts, and as query strings carry them).
type Int64 int64

// UnmarshalJSON accepts 12, "12" and null.
func (n *Int64) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	if s == "null" || s == "" {
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64) // 1e3, 12.0
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
			return invalidParam("%s is not an integer", string(b))
		}
		v = int64(f)
	}
	*n = Int64(v)
	return nil
}

// Bool is a protobuf bool in JSON, also read from "true" and "false".
type Bool bool

// UnmarshalJSON accepts true, "true", false, "false" and null.
func (b *Bool) UnmarshalJSON(data []byte) error {
	switch strings.ToLower(string(bytes.Trim(data, `"`))) {
	case "true":
		*b = true
	case "false", "null", "":
		*b = false
	default:
		return invalidParam("%s is not a boolean", string(data))
	}
	return nil
}

// Float is a protobuf double in JSON: NaN and the infinities are the
// strings "NaN", "Infinity" and "-Infinity", in both directions.
type Float float64

// MarshalJSON writes finite values as numbers and the rest as protobuf's
// strings.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Infinity"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON reads numbers, numeric strings, NaN and the infinities.
func (f *Float) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	switch s {
	case "null", "":
		return nil
	case "NaN", "nan":
		*f = Float(math.NaN())
		return nil
	case "Infinity", "inf":
		*f = Float(math.Inf(1))
		return nil
	case "-Infinity", "-inf":
		*f = Float(math.Inf(-1))
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return invalidParam("%s is not a number", string(b))
	}
	*f = Float(v)
	return nil
}
