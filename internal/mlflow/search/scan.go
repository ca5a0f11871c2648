package search

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/arcaproject/arca/internal/errs"
)

// scanner reads MLflow's search grammar from a string. It is lexer and
// parser in one: the parser knows at every point whether it expects an
// identifier, an operator or a value, and asks the scanner for exactly
// that, so a word is never misread as a keyword (params.from and
// params.and are plain keys) and a key is never misread as a number.
type scanner struct {
	src  string
	pos  int    // byte offset of the next unread character
	what string // "filter" or "order_by clause", for error messages
}

// invalidf is an INVALID_PARAMETER_VALUE error.
func invalidf(format string, args ...any) *errs.Error {
	return errs.E(errs.Invalid, format, args...).WithCode("INVALID_PARAMETER_VALUE")
}

// errAt reports a syntax error at byte offset pos, naming the column
// (1-based, in characters) and quoting the input, shortened when long.
func (s *scanner) errAt(pos int, format string, args ...any) *errs.Error {
	col := utf8.RuneCountInString(s.src[:min(pos, len(s.src))]) + 1
	return invalidf("Invalid %s %s: %s (at column %d)", s.what, quote(s.src), fmt.Sprintf(format, args...), col)
}

// quote renders user input inside a message: single-quoted as MLflow
// does, cut at 200 characters so that a huge input cannot make a huge
// message.
func quote(s string) string {
	const max = 200
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max]) + "..."
	}
	return "'" + s + "'"
}

func (s *scanner) eof() bool { return s.pos >= len(s.src) }

func (s *scanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.src[s.pos]
}

func (s *scanner) skipSpace() {
	for !s.eof() {
		r, n := utf8.DecodeRuneInString(s.src[s.pos:])
		if !unicode.IsSpace(r) {
			return
		}
		s.pos += n
	}
}

// isWordRune reports whether r may appear in an unquoted word: letters,
// digits and underscores, in any script (MLflow's tokenizer uses \w).
func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// word reads an unquoted word; "" when none starts here.
func (s *scanner) word() string {
	start := s.pos
	for !s.eof() {
		r, n := utf8.DecodeRuneInString(s.src[s.pos:])
		if !isWordRune(r) {
			break
		}
		s.pos += n
	}
	return s.src[start:s.pos]
}

// keyword consumes kw (case-insensitive) when it is the next word,
// followed by something that is not a word character.
func (s *scanner) keyword(kw string) bool {
	end := s.pos + len(kw)
	if end > len(s.src) || !strings.EqualFold(s.src[s.pos:end], kw) {
		return false
	}
	if end < len(s.src) {
		if r, _ := utf8.DecodeRuneInString(s.src[end:]); isWordRune(r) {
			return false
		}
	}
	s.pos = end
	return true
}

// quoted reads a quoted token that starts with q (', " or `) and returns
// its content without the quotes. As in MLflow, the content is kept as
// written: a doubled quote or a backslash-escaped quote does not end the
// token but is not unescaped either. (MLflow's tokenizer backtracks to
// the last quote when an escaped quote leaves the token unterminated;
// that is reproduced too.)
func (s *scanner) quoted(q byte) (string, error) {
	start := s.pos
	i := s.pos + 1
	for i < len(s.src) {
		c := s.src[i]
		switch {
		case c == q && i+1 < len(s.src) && s.src[i+1] == q:
			i += 2
		case c == q:
			s.pos = i + 1
			return s.src[start+1 : i], nil
		case c == '\\' && q != '`' && i+1 < len(s.src) && s.src[i+1] == q:
			i += 2
		default:
			i++
		}
	}
	// Unterminated when escapes are honoured: end at the last quote.
	if last := strings.LastIndexByte(s.src[start+1:], q); last >= 0 {
		end := start + 1 + last
		s.pos = end + 1
		return s.src[start+1 : end], nil
	}
	return "", s.errAt(start, "unterminated quoted string starting with %c", q)
}

// number reads a numeric literal: an optional minus sign, digits with an
// optional fraction (or a fraction alone), and an optional exponent. It
// must not run into a letter or underscore ("1AND" is not a number).
// ok is false, with the position unchanged, when no number starts here.
func (s *scanner) number() (text string, ok bool) {
	start, i := s.pos, s.pos
	if i < len(s.src) && s.src[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s.src) && s.src[i] >= '0' && s.src[i] <= '9' {
			i++
			n++
		}
		return n
	}
	intDigits := digits()
	fracDigits := 0
	if i < len(s.src) && s.src[i] == '.' {
		i++
		fracDigits = digits()
		if intDigits == 0 && fracDigits == 0 {
			return "", false
		}
	} else if intDigits == 0 {
		return "", false
	}
	if i < len(s.src) && (s.src[i] == 'e' || s.src[i] == 'E') {
		j := i + 1
		if j < len(s.src) && (s.src[j] == '-' || s.src[j] == '+') {
			j++
		}
		k := j
		for k < len(s.src) && s.src[k] >= '0' && s.src[k] <= '9' {
			k++
		}
		if k == j {
			return "", false // "1e" or "1e+"
		}
		i = k
	}
	if i < len(s.src) {
		if r, _ := utf8.DecodeRuneInString(s.src[i:]); isWordRune(r) {
			return "", false
		}
	}
	s.pos = i
	return s.src[start:i], true
}
