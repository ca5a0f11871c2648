package mlflow

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"math/big"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/meta"
)

// maxArgs bounds the arguments of one statement, under SQLite's limit
// (32766) and PostgreSQL's (65535).
const maxArgs = 30000

// maxInList bounds the ids of one IN (...) list.
const maxInList = 5000

// dbq is where store code runs SQL (the database or a transaction) and
// whether that is SQLite. Queries are written once with $N arguments, but
// SQLite keeps every numbered or named argument in a list that it (and the
// driver, binding each argument) searches linearly: a statement with
// thousands of "$N" costs quadratic time, 300 ms for a 1000-metric batch.
// The long argument lists that store code generates (multi-row VALUES, IN
// lists) are therefore bare "?" on SQLite, which SQLite numbers one past
// the largest number so far; they must be generated in argument order,
// after any "$N" of the statement.
type dbq struct {
	meta.Querier
	sqlite bool
}

// q is the database; tx a transaction on it.
func (h *Handler) q() dbq            { return dbq{h.db, h.db.Dialect == meta.SQLite} }
func (h *Handler) tx(tx *sql.Tx) dbq { return dbq{tx, h.db.Dialect == meta.SQLite} }

// arg appends the placeholder of argument n, the next argument.
func (q dbq) arg(b *strings.Builder, n int) {
	if q.sqlite {
		b.WriteByte('?')
		return
	}
	b.WriteByte('$')
	b.WriteString(strconv.Itoa(n))
}

// placeholders appends "(arg first, ..., arg first+cols-1)".
func (q dbq) placeholders(b *strings.Builder, first, cols int) {
	b.WriteByte('(')
	for c := 0; c < cols; c++ {
		if c > 0 {
			b.WriteByte(',')
		}
		q.arg(b, first+c)
	}
	b.WriteByte(')')
}

// inList returns the placeholders of arguments first..first+n-1, comma
// separated.
func (q dbq) inList(first, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		q.arg(&b, first+i)
	}
	return b.String()
}

// insertChunk bounds the rows of one multi-row INSERT.
const insertChunk = 128

// insertRows writes n rows with multi-row INSERTs: head is the statement
// up to VALUES ("INSERT INTO t (a, b) VALUES"), tail what follows the rows
// (an ON CONFLICT clause), and row appends the cols arguments of row i.
//
// Statements hold a power of two of rows, at most insertChunk (1000 rows
// are ten: 128 × 7 + 64 + 32 + 8), so that every text is one of eight per
// table, which the statement caches keep prepared. One statement of all the rows had a text of its own for
// every batch size, over the length SQLite's cache keeps (meta's
// maxCachedQuery): parsing a 1000-row INSERT anew was 15% of a
// log-batch's CPU.
func (q dbq) insertRows(ctx context.Context, head, tail string, cols, n int, row func(i int, args []any) []any) error {
	chunk := min(insertChunk, maxArgs/cols)
	for start := 0; start < n; {
		size := chunk
		for size > n-start {
			size /= 2
		}
		end := start + size
		var b strings.Builder
		b.WriteString(head)
		args := make([]any, 0, size*cols)
		for i := start; i < end; i++ {
			if i > start {
				b.WriteByte(',')
			}
			q.placeholders(&b, len(args)+1, cols)
			args = row(i, args)
		}
		b.WriteByte(' ')
		b.WriteString(tail)
		if _, err := q.ExecContext(ctx, b.String(), args...); err != nil {
			return meta.Err(err)
		}
		start = end
	}
	return nil
}

// chunks calls fn with consecutive slices of ids of at most maxInList.
func chunks(ids []int64, fn func(part []int64) error) error {
	for start := 0; start < len(ids); start += maxInList {
		if err := fn(ids[start:min(start+maxInList, len(ids))]); err != nil {
			return err
		}
	}
	return nil
}

// int64Args converts ids to query arguments.
func int64Args(ids []int64) []any {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return args
}

// randomHex returns n random bytes in hex: run ids are 16 (32 hex digits,
// as MLflow's uuid4().hex).
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Words of the random names that runs and logged models get when their
// creator names none ("brave-otter-123"), as MLflow names them.
var (
	nameAdjectives = strings.Fields(`able agile amber bold brave bright brisk calm careful clever
		cosmic crisp curious daring deft eager earnest fearless fleet gentle glad golden grand
		happy hardy honest humble jolly keen kind lively loyal lucid merry mighty nimble noble
		patient placid polite proud quick quiet rapid regal serene sharp shiny silent sleek
		smart snappy solid spry steady stellar sunny swift tidy vivid warm wise witty zesty`)
	nameNouns = strings.Fields(`ant badger bat bear bee bison boar carp cat cod colt crab crane
		crow deer dog dove duck eagle eel elk finch fish fox frog gnat goat goose gull hare hawk
		heron horse ibis jay koala lark lemur lion lynx mole moose moth mouse newt owl ox panda
		pig pike puma quail ram rat robin seal shark sheep shrew slug snail snake squid stork
		swan tapir tiger toad trout wasp whale wolf wren yak zebra`)
)

// randomName returns adjective-noun-number, at most 20 characters.
func randomName() string {
	pick := func(words []string) string {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(words))))
		return words[n.Int64()]
	}
	num, _ := rand.Int(rand.Reader, big.NewInt(1000))
	name := pick(nameAdjectives) + "-" + pick(nameNouns) + "-" + num.String()
	return truncate(name, 20)
}
