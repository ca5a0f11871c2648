package search

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/errs"
)

func str(s string) Literal     { return Literal{Kind: StringValue, Text: s} }
func list(v ...string) Literal { return Literal{Kind: ListValue, List: v} }
func num(text string, v float64) Literal {
	return Literal{Kind: NumberValue, Text: text, Num: v}
}

// cmp is a Comparison without positions, for table tests.
type cmp struct {
	Entity, Key string
	Op          Op
	Value       Literal
}

func strip(cs []Comparison) []cmp {
	out := make([]cmp, len(cs))
	for i, c := range cs {
		out[i] = cmp{c.Entity, c.Key, c.Op, c.Value}
	}
	return out
}

func TestParseFilter(t *testing.T) {
	none := Literal{Kind: NoValue}
	tests := []struct {
		in   string
		want []cmp
	}{
		{"", []cmp{}},
		{"   ", []cmp{}},
		// MLflow's documented examples.
		{"metrics.accuracy > 0.92", []cmp{{"metrics", "accuracy", OpGt, num("0.92", 0.92)}}},
		{`params.model = "LogisticRegression" and params.lambda = "0.001" and metrics.error <= 0.05`, []cmp{
			{"params", "model", OpEq, str("LogisticRegression")},
			{"params", "lambda", OpEq, str("0.001")},
			{"metrics", "error", OpLe, num("0.05", 0.05)},
		}},
		{`attributes.status = "FAILED"`, []cmp{{"attributes", "status", OpEq, str("FAILED")}}},
		{"metrics.rmse < 1 and params.model_class = 'LogisticRegression'", []cmp{
			{"metrics", "rmse", OpLt, num("1", 1)},
			{"params", "model_class", OpEq, str("LogisticRegression")},
		}},
		{`metrics."model class" = 2 and tags."user-name" = 'Tomas'`, []cmp{
			{"metrics", "model class", OpEq, num("2", 2)},
			{"tags", "user-name", OpEq, str("Tomas")},
		}},
		{"attributes.name LIKE 'x%' AND tags.group = 'y'", []cmp{
			{"attributes", "name", OpLike, str("x%")},
			{"tags", "group", OpEq, str("y")},
		}},
		{"tags.deprecated IS NULL", []cmp{{"tags", "deprecated", OpIsNull, none}}},
		{"tags.group IS NOT NULL", []cmp{{"tags", "group", OpIsNotNull, none}}},
		{"datasets.digest IN ('s8ds293b', 'jks834s2')", []cmp{{"datasets", "digest", OpIn, list("s8ds293b", "jks834s2")}}},
		// From MLflow's own test suite.
		{"metric.acc >= 0.94", []cmp{{"metric", "acc", OpGe, num("0.94", 0.94)}}},
		{"metric.acc>=100", []cmp{{"metric", "acc", OpGe, num("100", 100)}}},
		{"params.m!='tf'", []cmp{{"params", "m", OpNe, str("tf")}}},
		{`params."m"!="tf"`, []cmp{{"params", "m", OpNe, str("tf")}}},
		{`metric."legit name" >= 0.243`, []cmp{{"metric", "legit name", OpGe, num("0.243", 0.243)}}},
		{`metrics."X//Y#$$@&Z" = 3`, []cmp{{"metrics", "X//Y#$$@&Z", OpEq, num("3", 3)}}},
		// Identifiers.
		{"status = 'x'", []cmp{{"", "status", OpEq, str("x")}}},
		{"`Run name` = 'x'", []cmp{{"", "Run name", OpEq, str("x")}}},
		{"tags.mlflow.source.type = 'x'", []cmp{{"tags", "mlflow.source.type", OpEq, str("x")}}},
		{"`tags`.`mlflow.user` = 'x'", []cmp{{"tags", "mlflow.user", OpEq, str("x")}}},
		{"tags.'x y' = 'x'", []cmp{{"tags", "x y", OpEq, str("x")}}},
		{"metrics.1acc > 1", []cmp{{"metrics", "1acc", OpGt, num("1", 1)}}},
		{"params.from = 'x' AND params.and = 'y'", []cmp{{"params", "from", OpEq, str("x")}, {"params", "and", OpEq, str("y")}}},
		{"tags.ключ = 'значение'", []cmp{{"tags", "ключ", OpEq, str("значение")}}},
		{"tags.`a``b` = 'x'", []cmp{{"tags", "a``b", OpEq, str("x")}}},
		// Operators and keywords, any case.
		{"run_name like 'a%' AnD run_name ilike 'A%'", []cmp{{"", "run_name", OpLike, str("a%")}, {"", "run_name", OpILike, str("A%")}}},
		{"run_id in ('a') and run_id NOT  in ('b',)", []cmp{{"", "run_id", OpIn, list("a")}, {"", "run_id", OpNotIn, list("b")}}},
		{"tags.x is   not null", []cmp{{"tags", "x", OpIsNotNull, none}}},
		{"metrics.a <> 1", []cmp{{"metrics", "a", Op("<>"), num("1", 1)}}},
		{"metrics.a == 1", []cmp{{"metrics", "a", Op("=="), num("1", 1)}}},
		{"tags.a NOT LIKE 'x'", []cmp{{"tags", "a", Op("NOT LIKE"), str("x")}}},
		{"tags.a RLIKE 'x'", []cmp{{"tags", "a", OpRLike, str("x")}}},
		// Numbers.
		{"metrics.a > -1", []cmp{{"metrics", "a", OpGt, num("-1", -1)}}},
		{"metrics.a > 1e3", []cmp{{"metrics", "a", OpGt, num("1e3", 1000)}}},
		{"metrics.a > .5", []cmp{{"metrics", "a", OpGt, num(".5", 0.5)}}},
		{"metrics.a > 5.", []cmp{{"metrics", "a", OpGt, num("5.", 5)}}},
		{"metrics.a > 2.5E-3", []cmp{{"metrics", "a", OpGt, num("2.5E-3", 0.0025)}}},
		{"metrics.a > 1e999", []cmp{{"metrics", "a", OpGt, num("1e999", math.Inf(1))}}},
		// Strings are taken as written.
		{"params.x = 'it''s'", []cmp{{"params", "x", OpEq, str("it''s")}}},
		{`params.x = 'it\'s'`, []cmp{{"params", "x", OpEq, str(`it\'s`)}}},
		{`params.x = "say ""hi"""`, []cmp{{"params", "x", OpEq, str(`say ""hi""`)}}},
		{`params.x = 'a\'`, []cmp{{"params", "x", OpEq, str(`a\`)}}},
		{"params.x = ''", []cmp{{"params", "x", OpEq, str("")}}},
		{"params.x = 'AND params.y = 1'", []cmp{{"params", "x", OpEq, str("AND params.y = 1")}}},
		{"params.x = '; DROP TABLE mlflow_runs; --'", []cmp{{"params", "x", OpEq, str("; DROP TABLE mlflow_runs; --")}}},
		// MLflow tolerates a missing or trailing AND.
		{"metrics.a > 1 params.b = 'c'", []cmp{{"metrics", "a", OpGt, num("1", 1)}, {"params", "b", OpEq, str("c")}}},
		{"metrics.a > 1 AND", []cmp{{"metrics", "a", OpGt, num("1", 1)}}},
		{"\tmetrics.a>1\nAND\tparams.b='c'AND tags.d='e'", []cmp{{"metrics", "a", OpGt, num("1", 1)}, {"params", "b", OpEq, str("c")}, {"tags", "d", OpEq, str("e")}}},
	}
	for _, tt := range tests {
		got, err := ParseFilter(tt.in)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tt.in, err)
			continue
		}
		if g := strip(got); !reflect.DeepEqual(g, tt.want) {
			t.Errorf("ParseFilter(%q)\n got %+v\nwant %+v", tt.in, g, tt.want)
		}
	}
}

func TestParseFilterPositions(t *testing.T) {
	in := "metrics.a > 1 AND  params.b = 'x y'"
	got, err := ParseFilter(in)
	if err != nil {
		t.Fatal(err)
	}
	if in[got[0].Pos:got[0].End] != "metrics.a > 1" || in[got[1].Pos:got[1].End] != "params.b = 'x y'" {
		t.Errorf("positions %+v", got)
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"metrics.acc > 1 OR metrics.acc < 0", "OR is not supported"},
		{"(metrics.acc > 1)", "parenthesized groups are not supported"},
		{"metrics.acc > 1;", "';' is not allowed"},
		{"metrics.acc > 1; params.x = 'y'", "';' is not allowed"},
		{"NOT metrics.x > 1", "NOT is only supported"},
		{"metrics.acc", "expected a comparison operator"},
		{"metrics.acc ~ 1", "expected a comparison operator"},
		{"metrics.acc >", "expected a quoted string or a number, found the end of the input"},
		{"params.lr = abc", "value abc is not quoted"},
		{"params.lr = `abc`", "quoted with backticks"},
		{"metrics.acc >= 1AND params.a = 'b'", "value 1AND is not quoted"},
		{"metrics.x > 0x10", "value 0x10 is not quoted"},
		{"metrics.x > +5", "expected a quoted string or a number"},
		{"metrics.x > 1e", "value 1e is not quoted"},
		{"params.x = 'unterminated", "unterminated quoted string"},
		{`params."unterminated = 'x`, "unterminated quoted string"},
		{"params.x = 'a' 'b'", "expected a comparison operator"},
		{"params.x IN 'a'", "IN must be followed by a parenthesized list"},
		{"params.x IN ()", "non-empty list"},
		{"params.x IN (1, 2)", "a list may only hold quoted strings"},
		{"params.x IN ('a' 'b')", "expected ',' or ')'"},
		{"params.x IN ('a'", "expected ',' or ')'"},
		{"params.x = ('a')", "a parenthesized list can only follow IN or NOT IN"},
		{"params.x IS 'a'", "expected a comparison operator"},
		{"metrics. > 1", "expected a key after"},
		{"metrics.a. > 1", "expected a word after '.'"},
		{`"tags".x = 'y'`, "invalid entity type"},
		{"tags.`a`.b = 'y'", "unexpected '.' after the quoted key"},
		{"= 1", "expected an identifier"},
		{"params.x = 'a' -- comment", "expected an identifier"},
		{"params.x = 'a' /* c */", "expected an identifier"},
		{"metrics.a-b > 1", "expected a comparison operator"},
		{strings.Repeat("metrics.a > 1 AND ", 51), "more than 50 comparisons"},
	}
	for _, tt := range tests {
		_, err := ParseFilter(tt.in)
		if err == nil {
			t.Errorf("ParseFilter(%q) = nil error, want %q", tt.in, tt.want)
			continue
		}
		if errs.KindOf(err) != errs.Invalid || errs.CodeOf(err) != "INVALID_PARAMETER_VALUE" {
			t.Errorf("ParseFilter(%q): %v is not INVALID_PARAMETER_VALUE", tt.in, err)
		}
		if msg := errs.Message(err); !strings.Contains(msg, tt.want) || !strings.Contains(msg, "column") {
			t.Errorf("ParseFilter(%q) = %q, want it to say %q and where", tt.in, msg, tt.want)
		}
	}
}

func TestErrorNamesColumn(t *testing.T) {
	_, err := ParseFilter("metrics.a > 1 AND params.b == 'c' OR x")
	if err == nil {
		t.Fatal("no error")
	}
	// "OR" starts at the 35th character.
	if msg := errs.Message(err); !strings.Contains(msg, "column 35") || !strings.HasPrefix(msg, "Invalid filter 'metrics.a > 1") {
		t.Errorf("message %q", msg)
	}
	_, err = ParseFilter("tags.ключ = 'значение' AND ?")
	if msg := errs.Message(err); !strings.Contains(msg, "column 28") {
		t.Errorf("column counts characters, not bytes: %q", msg)
	}
	long := "params.x = '" + strings.Repeat("y", 500) + "' AND ?"
	_, err = ParseFilter(long)
	if msg := errs.Message(err); len(msg) > 400 {
		t.Errorf("message of %d bytes for a long filter", len(msg))
	}
}

func TestParseOrderBy(t *testing.T) {
	tests := []struct {
		in   string
		want OrderTerm
	}{
		{"metrics.acc DESC", OrderTerm{"metrics", "acc", true}},
		{"metrics.acc desc", OrderTerm{"metrics", "acc", true}},
		{"metrics.acc", OrderTerm{"metrics", "acc", false}},
		{"metrics.acc ASC", OrderTerm{"metrics", "acc", false}},
		{"metrics.`my key` DESC", OrderTerm{"metrics", "my key", true}},
		{`metrics."my key" DESC`, OrderTerm{"metrics", "my key", true}},
		{"metrics.'my key' DESC", OrderTerm{"metrics", "my key", true}},
		{"`metrics`.acc DESC", OrderTerm{"metrics", "acc", true}},
		{"attributes.start_time", OrderTerm{"attributes", "start_time", false}},
		{"name ASC", OrderTerm{"", "name", false}},
		{"tags.mlflow.user", OrderTerm{"tags", "mlflow.user", false}},
		{" metrics.acc   DESC ", OrderTerm{"metrics", "acc", true}},
		{"timestamp DESC", OrderTerm{"", "timestamp", true}},
	}
	for _, tt := range tests {
		got, err := ParseOrderBy(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseOrderBy(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "metrics.acc DESC NULLS LAST", "metrics.acc DOWN", "metrics.acc DESC, params.x",
		"metrics.a b DESC", "metrics.acc DESC DESC", "metrics.", "(name)", "name;"} {
		_, err := ParseOrderBy(in)
		if err == nil || errs.CodeOf(err) != "INVALID_PARAMETER_VALUE" {
			t.Errorf("ParseOrderBy(%q) = %v, want INVALID_PARAMETER_VALUE", in, err)
		} else if !strings.Contains(errs.Message(err), "order_by") {
			t.Errorf("ParseOrderBy(%q): %q does not say it is the order_by", in, errs.Message(err))
		}
	}
}

func TestPageToken(t *testing.T) {
	for _, off := range []int{0, 1, 100, 123456789} {
		got, err := DecodePageToken(EncodePageToken(off))
		if err != nil || got != off {
			t.Errorf("round trip of %d: %d, %v", off, got, err)
		}
	}
	// MLflow's own tokens: base64.b64encode(json.dumps({"offset": 100})).
	if got := EncodePageToken(100); got != "eyJvZmZzZXQiOiAxMDB9" {
		t.Errorf("EncodePageToken(100) = %q, not MLflow's token", got)
	}
	for token, want := range map[string]int{
		"":                       0,
		"eyJvZmZzZXQiOiAxMDB9":   100,
		"eyJvZmZzZXQiOiAxMDB9\n": 100,
		"eyJvZmZzZXQiOiAiNSJ9":   5, // {"offset": "5"}
		// search_logged_models' tokens carry more fields.
		"eyJleHBlcmltZW50X2lkcyI6IFsiMSJdLCAiZmlsdGVyX3N0cmluZyI6IG51bGwsICJvcmRlcl9ieSI6IG51bGwsICJvZmZzZXQiOiA3fQ==": 7,
		"eyJvZmZzZXQiOjN9": 3, // unpadded
	} {
		got, err := DecodePageToken(token)
		if err != nil || got != want {
			t.Errorf("DecodePageToken(%q) = %d, %v; want %d", token, got, err, want)
		}
	}
	for _, token := range []string{
		"garbage!", "bm90IGpzb24=", "W10=", "eyJvZmZzZXQiOiAtMX0=", "eyJvZmZzZXQiOiAxLjV9",
		"eyJ4IjogMX0=", "eyJvZmZzZXQiOiAxZTEwMH0=", "eyJvZmZzZXQiOiAiYWJjIn0=", "eyJvZmZzZXQiOiA5OTk5OTk5OTk5OTk5OTk5OTk5OX0=",
	} {
		_, err := DecodePageToken(token)
		if err == nil || errs.KindOf(err) != errs.Invalid || errs.CodeOf(err) != "INVALID_PARAMETER_VALUE" {
			t.Errorf("DecodePageToken(%q) = %v, want INVALID_PARAMETER_VALUE", token, err)
		} else if !strings.Contains(errs.Message(err), "Invalid page token") {
			t.Errorf("DecodePageToken(%q): %q", token, errs.Message(err))
		}
	}
}

func TestLikePrefix(t *testing.T) {
	tests := []struct{ pattern, lo, hi string }{
		{"abc%", "abc", "abd"},
		{"abc", "abc", "abd"},
		{"ab_c%", "ab", "ac"},
		{`a\%b%`, "a%b", "a%c"},
		{`a\\%`, `a\`, "a]"},
		{"run-4242%", "run-4242", "run-4243"},
		{"é%", "é", "ê"},
		{"a\U0010FFFF%", "a\U0010FFFF", "b"},
		{"\U0010FFFF%", "\U0010FFFF", ""},
		{"a\uD7FF", "a\uD7FF", "a\uE000"},
	}
	for _, tt := range tests {
		lo, hi, ok := likePrefix(tt.pattern)
		if !ok || lo != tt.lo || hi != tt.hi {
			t.Errorf("likePrefix(%q) = %q, %q, %v; want %q, %q", tt.pattern, lo, hi, ok, tt.lo, tt.hi)
		}
	}
	for _, p := range []string{"", "%a", "_a", "%"} {
		if _, _, ok := likePrefix(p); ok {
			t.Errorf("likePrefix(%q) has a prefix", p)
		}
	}
}
