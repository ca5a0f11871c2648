package search

import (
	"math"
	"strconv"
	"strings"
)

// sqlb accumulates the bind arguments of one statement. Every value that
// comes from the user is bound with arg; only arca's own constants (table
// and column names, lifecycle stages) are ever written into SQL text.
type sqlb struct {
	args []any
}

// arg binds v and returns its placeholder.
func (b *sqlb) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

// argList binds vs and returns "$i, $j, ...".
func (b *sqlb) argList(vs []string) string {
	ps := make([]string, len(vs))
	for i, v := range vs {
		ps[i] = b.arg(v)
	}
	return strings.Join(ps, ", ")
}

// never is a condition that no row satisfies.
const never = "1 = 0"

// str compares a text expression with a string literal or list:
// =, != and IN/NOT IN compare bytes, LIKE is case-sensitive and ILIKE
// case-insensitive on both engines (see like).
func (b *sqlb) str(expr string, op Op, lit Literal) (string, error) {
	switch op {
	case OpEq, OpNe:
		return expr + " " + string(op) + " " + b.arg(lit.Text), nil
	case OpIn:
		return expr + " IN (" + b.argList(lit.List) + ")", nil
	case OpNotIn:
		return expr + " NOT IN (" + b.argList(lit.List) + ")", nil
	case OpLike:
		return b.like(expr, lit.Text)
	case OpILike:
		return b.ilike(expr, lit.Text)
	}
	return "", invalidf("Invalid comparator '%s' for a string value", op)
}

// strOrNull is str for a column that stores "not set" as the empty
// string where MLflow stores NULL: such rows match no comparison.
func (b *sqlb) strOrNull(expr string, op Op, lit Literal) (string, error) {
	s, err := b.str(expr, op, lit)
	if err != nil {
		return "", err
	}
	return "(" + s + " AND " + expr + " <> '')", nil
}

// LIKE patterns use '\' as their escape character on both engines, as
// PostgreSQL does by default (so '\%' and '\_' match a literal % and _).
// SQLite has no default escape character, so ESCAPE is always spelled
// out.
const likeEscape = ` ESCAPE '\'`

// checkPattern rejects a pattern that ends with an unpaired escape
// character, which PostgreSQL refuses and SQLite never matches.
func checkPattern(p string) error {
	n := 0
	for i := len(p) - 1; i >= 0 && p[i] == '\\'; i-- {
		n++
	}
	if n%2 == 1 {
		return invalidf("Invalid LIKE pattern %s: it ends with the escape character '\\'; write '\\\\' for a literal backslash", quote(p))
	}
	return nil
}

// like is a case-sensitive LIKE on both engines. PostgreSQL's LIKE is
// case-sensitive; SQLite's folds ASCII letters (and only those). So the
// plain LIKE, exact on PostgreSQL and a superset on SQLite, is AND-ed
// with a LIKE of both sides in which the upper-case ASCII letters are
// mapped to code points that nothing folds to (U+E000..U+E019, private
// use), so that a letter only matches the same letter in the same case.
// The pattern is mapped here, the column in SQL with replace(), which
// both engines have. A pattern without ASCII letters needs no second
// test: folding cannot change what it matches.
func (b *sqlb) like(expr, pattern string) (string, error) {
	if err := checkPattern(pattern); err != nil {
		return "", err
	}
	plain := expr + " LIKE " + b.arg(pattern) + likeEscape
	if !hasASCIILetter(pattern) {
		return plain, nil
	}
	// COALESCE keeps PostgreSQL from taking the second test for an
	// independent, selective condition (it would then misjudge how many
	// rows match and plan for few).
	return "(" + plain + " AND COALESCE(" + maskUpper(expr) + " LIKE " + b.arg(maskUpperString(pattern)) + likeEscape + ", FALSE))", nil
}

// ilike is LOWER(expr) LIKE lower(pattern): case-insensitive for ASCII
// letters on both engines, as MLflow's ILIKE is on SQLite. (Whether
// other letters fold depends on the engine and the column's collation.)
func (b *sqlb) ilike(expr, pattern string) (string, error) {
	if err := checkPattern(pattern); err != nil {
		return "", err
	}
	// COALESCE: PostgreSQL has no statistics of LOWER(expr) and would
	// take the condition for a very selective one (see like).
	return "COALESCE(LOWER(" + expr + ") LIKE " + b.arg(asciiLower(pattern)) + likeEscape + ", FALSE)", nil
}

func hasASCIILetter(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c >= 'a' && c <= 'z' {
			return true
		}
	}
	return false
}

func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

// maskBase is where the masked upper-case letters go: U+E000 is 'A'.
const maskBase = 0xE000

func maskUpperString(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return maskBase + (r - 'A')
		}
		return r
	}, s)
}

// maskUpper is the SQL of maskUpperString(expr).
func maskUpper(expr string) string {
	var sb strings.Builder
	for c := 'Z'; c >= 'A'; c-- {
		sb.WriteString("replace(")
	}
	sb.WriteString(expr)
	for c := 'A'; c <= 'Z'; c++ {
		sb.WriteString(", '")
		sb.WriteRune(c)
		sb.WriteString("', '")
		sb.WriteRune(maskBase + (c - 'A'))
		sb.WriteString("')")
	}
	return sb.String()
}

// real compares a floating-point expression with a number.
func (b *sqlb) real(expr string, op Op, v float64) string {
	return expr + " " + string(op) + " " + b.arg(v)
}

// integer compares an integer expression with a number exactly, binding
// only integers, so that PostgreSQL keeps using integer indexes: x > 5.5
// becomes x >= 6, x = 5.5 matches nothing, and bounds beyond the int64
// range become "all non-null rows" or "none".
func (b *sqlb) integer(expr string, op Op, lit Literal) string {
	v := lit.Num
	if n, ok := lit.isInt(); ok {
		return expr + " " + string(op) + " " + b.arg(n)
	}
	if math.IsNaN(v) {
		return never
	}
	all := expr + " IS NOT NULL"
	switch op {
	case OpEq:
		if v != math.Trunc(v) || math.Abs(v) >= 1<<63 {
			return never
		}
		return expr + " = " + b.arg(int64(v))
	case OpNe:
		if v != math.Trunc(v) || math.Abs(v) >= 1<<63 {
			return all
		}
		return expr + " <> " + b.arg(int64(v))
	case OpGt, OpGe:
		// x > v and x >= v are x >= ceil(v) for non-integral v; for an
		// integral v outside int64 they are all or nothing.
		c := math.Ceil(v)
		if op == OpGt && c == v {
			c++
		}
		switch {
		case c >= 1<<63:
			return never
		case c < -(1 << 63):
			return all
		}
		return expr + " >= " + b.arg(int64(c))
	case OpLt, OpLe:
		f := math.Floor(v)
		if op == OpLt && f == v {
			f--
		}
		switch {
		case f < -(1 << 63):
			return never
		case f >= 1<<63:
			return all
		}
		return expr + " <= " + b.arg(int64(f))
	}
	return never
}

// page appends LIMIT and OFFSET. A limit of 0 or less is no limit.
func (b *sqlb) page(sql string, offset, limit int) string {
	if limit <= 0 {
		if offset <= 0 {
			return sql
		}
		limit = 1 << 62 // SQLite needs a LIMIT to have an OFFSET
	}
	sql += " LIMIT " + b.arg(int64(limit))
	if offset > 0 {
		sql += " OFFSET " + b.arg(int64(offset))
	}
	return sql
}

// int64List binds integers for an IN list.
func (b *sqlb) int64List(vs []int64) string {
	ps := make([]string, len(vs))
	for i, v := range vs {
		ps[i] = b.arg(v)
	}
	return strings.Join(ps, ", ")
}
