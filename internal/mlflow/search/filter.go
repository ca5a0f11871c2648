package search

import (
	"strconv"
	"strings"
)

// Op is a comparison operator, upper-cased.
type Op string

// The operators of the grammar. Which of them a key accepts depends on
// the entity searched and the kind of key (see the resolve functions).
const (
	OpEq        Op = "="
	OpNe        Op = "!="
	OpLt        Op = "<"
	OpLe        Op = "<="
	OpGt        Op = ">"
	OpGe        Op = ">="
	OpLike      Op = "LIKE"
	OpILike     Op = "ILIKE"
	OpRLike     Op = "RLIKE"
	OpIn        Op = "IN"
	OpNotIn     Op = "NOT IN"
	OpIsNull    Op = "IS NULL"
	OpIsNotNull Op = "IS NOT NULL"
)

// LiteralKind says what a comparison compares against.
type LiteralKind int

const (
	NoValue     LiteralKind = iota // IS NULL, IS NOT NULL
	StringValue                    // 'text' or "text"
	NumberValue                    // 12, -0.5, 1e-3
	ListValue                      // ('a', 'b')
)

// Literal is the right-hand side of a comparison.
type Literal struct {
	Kind LiteralKind
	Text string   // StringValue: the content between the quotes; NumberValue: as written
	Num  float64  // NumberValue: its value (±Inf when out of range)
	List []string // ListValue: the strings, in order
}

// Comparison is one clause of a filter: Entity.Key Op Value.
type Comparison struct {
	Pos    int    // byte offset of the clause in the filter
	End    int    // byte offset just past the clause
	Entity string // the prefix before the first dot, unquoted; "" when there is none
	Key    string // the rest, unquoted
	Op     Op
	Value  Literal
}

// ParseFilter parses a filter string into its comparisons, which are
// AND-ed. "" (or only spaces) is no comparison at all. The grammar is
// MLflow's, for every entity:
//
//	filter     = comparison { [ "AND" ] comparison } [ "AND" ]
//	comparison = identifier op value | identifier "IS" [ "NOT" ] "NULL"
//	             | identifier [ "NOT" ] "IN" "(" string { "," string } [ "," ] ")"
//	identifier = name [ "." key ]           (name: word or `word`)
//	key        = word { "." word } | `...` | "..." | '...'
//	op         = "=" | "!=" | "<" | "<=" | ">" | ">=" | "LIKE" | "ILIKE" | "RLIKE"
//	value      = '...' | "..." | number
//
// Keywords are case-insensitive. As in MLflow, AND between comparisons
// may be left out and may end the filter, there is no OR and no
// parenthesized group, and quoted text is taken as written (a doubled
// quote or a backslash before a quote does not end a string and is not
// unescaped). Which keys,
// operators and value types are allowed is checked afterwards, per
// entity.
func ParseFilter(filter string) ([]Comparison, error) {
	s := &scanner{src: filter, what: "filter"}
	var out []Comparison
	for {
		s.skipSpace()
		if s.eof() {
			break
		}
		if len(out) > 0 && s.keyword("AND") {
			continue
		}
		switch at := s.pos; {
		case s.keyword("OR"):
			return nil, s.errAt(at, "OR is not supported; comparisons can only be combined with AND")
		case s.keyword("NOT"):
			return nil, s.errAt(at, "NOT is only supported as part of NOT IN and IS NOT NULL")
		case s.peek() == '(':
			return nil, s.errAt(at, "parenthesized groups are not supported; write comparisons joined by AND")
		case s.peek() == ';':
			return nil, s.errAt(at, "';' is not allowed; write one filter of comparisons joined by AND")
		}
		c, err := s.comparison()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		if len(out) > maxClauses {
			return nil, s.errAt(c.Pos, "more than %d comparisons", maxClauses)
		}
	}
	if len(out) == 0 && strings.TrimSpace(filter) != "" {
		return nil, s.errAt(0, "no comparison found")
	}
	return out, nil
}

// maxClauses bounds the comparisons of one filter; each becomes a
// subquery.
const maxClauses = 50

func (s *scanner) comparison() (Comparison, error) {
	c := Comparison{Pos: s.pos}
	var err error
	if c.Entity, c.Key, err = s.identifier(); err != nil {
		return c, err
	}
	s.skipSpace()
	opPos := s.pos
	if c.Op, err = s.operator(); err != nil {
		return c, err
	}
	s.skipSpace()
	switch c.Op {
	case OpIsNull, OpIsNotNull:
		c.Value = Literal{Kind: NoValue}
	case OpIn, OpNotIn:
		if s.peek() != '(' {
			return c, s.errAt(s.pos, "%s must be followed by a parenthesized list of quoted strings, e.g. ('a', 'b')", c.Op)
		}
		if c.Value, err = s.list(); err != nil {
			return c, err
		}
	default:
		if c.Value, err = s.value(); err != nil {
			return c, err
		}
		if c.Value.Kind == ListValue {
			return c, s.errAt(opPos, "a parenthesized list can only follow IN or NOT IN, not %s", c.Op)
		}
	}
	c.End = s.pos
	return c, nil
}

// identifier reads name[.key]. A key made of plain words may contain
// dots (tags.mlflow.user is the tag "mlflow.user"); a key with other
// characters must be quoted.
func (s *scanner) identifier() (entity, key string, err error) {
	start := s.pos
	first, quotedFirst, err := s.part()
	if err != nil {
		return "", "", err
	}
	if first == "" && !quotedFirst {
		return "", "", s.errAt(start, "expected an identifier such as metrics.<key>, params.<key>, tags.<key> or an attribute, found %s", s.found())
	}
	if s.peek() != '.' {
		return "", first, nil
	}
	if quotedFirst && s.src[start] != '`' {
		return "", "", s.errAt(start, "invalid entity type %s: only the key may be quoted with single or double quotes", s.src[start:s.pos])
	}
	s.pos++ // the dot
	keyPos := s.pos
	key, quotedKey, err := s.part()
	if err != nil {
		return "", "", err
	}
	if key == "" && !quotedKey {
		return "", "", s.errAt(keyPos, "expected a key after %q", s.src[start:keyPos])
	}
	for !quotedKey && s.peek() == '.' {
		s.pos++
		w := s.word()
		if w == "" {
			return "", "", s.errAt(s.pos, "expected a word after '.' in %q; quote keys with special characters with backticks", s.src[start:s.pos])
		}
		key += "." + w
	}
	if quotedKey && s.peek() == '.' {
		return "", "", s.errAt(s.pos, "unexpected '.' after the quoted key %s", s.src[keyPos:s.pos])
	}
	return first, key, nil
}

// part reads one word or quoted segment of an identifier.
func (s *scanner) part() (text string, quoted bool, err error) {
	switch q := s.peek(); q {
	case '`', '"', '\'':
		text, err = s.quoted(q)
		return text, true, err
	}
	return s.word(), false, nil
}

// found describes what is at the current position, for error messages.
func (s *scanner) found() string {
	if s.eof() {
		return "the end of the input"
	}
	rest := s.src[s.pos:]
	if len(rest) > 20 {
		rest = rest[:20] + "..."
	}
	return strconv.Quote(rest)
}

// operator reads a comparison operator. "==", "<>" and NOT LIKE are read
// too, so that the entity check can name them in its error.
func (s *scanner) operator() (Op, error) {
	for _, sym := range []string{"!=", "==", "<>", "<=", ">=", "<", ">", "="} {
		if strings.HasPrefix(s.src[s.pos:], sym) {
			s.pos += len(sym)
			return Op(sym), nil
		}
	}
	start := s.pos
	switch {
	case s.keyword("LIKE"):
		return OpLike, nil
	case s.keyword("ILIKE"):
		return OpILike, nil
	case s.keyword("RLIKE"):
		return OpRLike, nil
	case s.keyword("IN"):
		return OpIn, nil
	case s.keyword("NOT"):
		s.skipSpace()
		for _, kw := range []string{"IN", "LIKE", "ILIKE", "RLIKE"} {
			if s.keyword(kw) {
				return Op("NOT " + kw), nil
			}
		}
	case s.keyword("IS"):
		s.skipSpace()
		not := s.keyword("NOT")
		s.skipSpace()
		if s.keyword("NULL") {
			if not {
				return OpIsNotNull, nil
			}
			return OpIsNull, nil
		}
	}
	s.pos = start
	return "", s.errAt(start, "expected a comparison operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL), found %s", s.found())
}

// value reads a quoted string, a number or a parenthesized list.
func (s *scanner) value() (Literal, error) {
	start := s.pos
	switch q := s.peek(); q {
	case '\'', '"':
		text, err := s.quoted(q)
		return Literal{Kind: StringValue, Text: text}, err
	case '(':
		return s.list()
	case '`':
		text, err := s.quoted(q)
		if err != nil {
			return Literal{}, err
		}
		return Literal{}, s.errAt(start, "value `%s` is quoted with backticks; quote string values with single or double quotes", text)
	}
	if text, ok := s.number(); ok {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil && !isRangeErr(err) {
			return Literal{}, s.errAt(start, "invalid number %s", text)
		}
		return Literal{Kind: NumberValue, Text: text, Num: f}, nil
	}
	if w := s.word(); w != "" {
		return Literal{}, s.errAt(start, "value %s is not quoted; quote string values with single or double quotes, e.g. '%s'", w, w)
	}
	return Literal{}, s.errAt(start, "expected a quoted string or a number, found %s", s.found())
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// list reads ('a', "b", ...): at least one quoted string, an optional
// trailing comma.
func (s *scanner) list() (Literal, error) {
	start := s.pos
	s.pos++ // (
	var items []string
	for {
		s.skipSpace()
		if s.peek() == ')' {
			if len(items) == 0 {
				return Literal{}, s.errAt(start, "expected a non-empty list of quoted strings, found an empty list")
			}
			s.pos++
			return Literal{Kind: ListValue, List: items}, nil
		}
		q := s.peek()
		if q != '\'' && q != '"' {
			return Literal{}, s.errAt(s.pos, "a list may only hold quoted strings, found %s", s.found())
		}
		text, err := s.quoted(q)
		if err != nil {
			return Literal{}, err
		}
		items = append(items, text)
		if len(items) > maxListItems {
			return Literal{}, s.errAt(start, "a list may hold at most %d values", maxListItems)
		}
		s.skipSpace()
		switch s.peek() {
		case ',':
			s.pos++
		case ')':
		default:
			return Literal{}, s.errAt(s.pos, "expected ',' or ')' in the list, found %s", s.found())
		}
	}
}

// maxListItems bounds an IN list; each value is a bind parameter.
const maxListItems = 1000

// isInt reports whether a literal is written as an integer (digits
// only, as MLflow's tokenizer tells integers from floats) that fits
// int64.
func (l Literal) isInt() (int64, bool) {
	if l.Kind != NumberValue || strings.ContainsAny(l.Text, ".eE") {
		return 0, false
	}
	n, err := strconv.ParseInt(l.Text, 10, 64)
	return n, err == nil
}

// String renders the literal as it would be written in a filter.
func (l Literal) String() string {
	switch l.Kind {
	case StringValue:
		return "'" + l.Text + "'"
	case NumberValue:
		return l.Text
	case ListValue:
		parts := make([]string, len(l.List))
		for i, v := range l.List {
			parts[i] = "'" + v + "'"
		}
		return "(" + strings.Join(parts, ", ") + ")"
	}
	return ""
}
