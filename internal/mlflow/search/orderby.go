package search

// OrderTerm is one parsed order_by clause: Entity.Key ASC|DESC.
type OrderTerm struct {
	Entity string // the prefix before the first dot, unquoted; "" when there is none
	Key    string
	Desc   bool
}

// ParseOrderBy parses one order_by clause, "<identifier> [ASC|DESC]",
// where the identifier is quoted as in filters (metrics.`my key` DESC).
// ASC is the default.
func ParseOrderBy(clause string) (OrderTerm, error) {
	s := &scanner{src: clause, what: "order_by clause"}
	s.skipSpace()
	if s.eof() {
		return OrderTerm{}, s.errAt(0, "expected an identifier, e.g. metrics.acc DESC")
	}
	var t OrderTerm
	var err error
	if t.Entity, t.Key, err = s.identifier(); err != nil {
		return t, err
	}
	s.skipSpace()
	switch {
	case s.keyword("DESC"):
		t.Desc = true
	case s.keyword("ASC"):
	case !s.eof():
		return t, s.errAt(s.pos, "expected ASC or DESC after the identifier, found %s", s.found())
	}
	s.skipSpace()
	if !s.eof() {
		return t, s.errAt(s.pos, "unexpected %s after the ordering; give one key per order_by entry", s.found())
	}
	return t, nil
}
