package backup

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/arcaproject/arca/internal/meta"
)

// A metadata snapshot is dialect-neutral: gzip-compressed JSON lines. The
// first line is a header object; then, per table in foreign-key order, an
// object naming the table, its columns and their neutral types, followed
// by one JSON array per row. Integers and floats are JSON numbers (floats
// are always finite: arca stores NaN as a flag and infinities as the
// largest doubles), booleans are JSON booleans, bytes are base64 strings,
// and a text value that is not valid UTF-8 (JSON cannot carry it) is an
// object {"b64": "..."}.
const snapshotFormat = "arca-metadata/1"

type snapshotHeader struct {
	Format        string       `json:"format"`
	Dialect       meta.Dialect `json:"dialect"`
	SchemaVersion int64        `json:"schema_version"`
}

type tableHeader struct {
	Table   string   `json:"table"`
	Columns []string `json:"columns"`
	Types   []string `json:"types"`
}

// BlobRef is a blob a snapshot refers to: a row of its blobs table.
type BlobRef struct {
	Digest string
	Size   int64
}

// Secret is a row of server_secrets: a server key wrapped under a KEK.
type Secret struct {
	Name, Value, KEKID string
}

// Contents is what an export wrote: rows per table, the blobs the
// metadata refers to, and the wrapped server keys.
type Contents struct {
	SchemaVersion int64
	Tables        map[string]int64
	Blobs         []BlobRef
	Secrets       []Secret
}

// Export writes every table of the database that q reads (a snapshot: a
// VACUUM INTO copy, or a repeatable-read transaction) to w as a snapshot.
func Export(ctx context.Context, q meta.Querier, dialect meta.Dialect, w io.Writer) (Contents, error) {
	c := Contents{Tables: map[string]int64{}}
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&c.SchemaVersion); err != nil {
		return c, fmt.Errorf("reading the schema version: %w", err)
	}
	cat := catalog{q: q, dialect: dialect}
	tables, err := cat.ordered(ctx)
	if err != nil {
		return c, err
	}
	zw := gzip.NewWriter(w)
	enc := json.NewEncoder(zw)
	if err := enc.Encode(snapshotHeader{Format: snapshotFormat, Dialect: dialect, SchemaVersion: c.SchemaVersion}); err != nil {
		return c, err
	}
	for _, t := range tables {
		n, err := exportTable(ctx, cat, t, enc, &c)
		if err != nil {
			return c, fmt.Errorf("exporting %s: %w", t, err)
		}
		c.Tables[t] = n
	}
	return c, zw.Close()
}

func exportTable(ctx context.Context, cat catalog, table string, enc *json.Encoder, c *Contents) (int64, error) {
	cols, err := cat.columns(ctx, table)
	if err != nil {
		return 0, err
	}
	h := tableHeader{Table: table}
	names := make([]string, len(cols))
	for i, col := range cols {
		h.Columns = append(h.Columns, col.Name)
		h.Types = append(h.Types, col.Type)
		names[i] = `"` + col.Name + `"`
	}
	if err := enc.Encode(h); err != nil {
		return 0, err
	}
	rows, err := cat.q.QueryContext(ctx, `SELECT `+strings.Join(names, ", ")+` FROM "`+table+`"`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	out := make([]any, len(cols))
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, v := range vals {
			if out[i], err = encodeValue(v, cols[i].Type); err != nil {
				return n, fmt.Errorf("column %s: %w", cols[i].Name, err)
			}
		}
		collect(table, h.Columns, out, c)
		if err := enc.Encode(out); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// collect keeps the rows of the blobs and server_secrets tables that a
// backup needs beside the snapshot.
func collect(table string, cols []string, row []any, c *Contents) {
	get := func(name string) any {
		for i, col := range cols {
			if col == name {
				return row[i]
			}
		}
		return nil
	}
	switch table {
	case "blobs":
		if get("data") != nil {
			return // kept in the row itself: the snapshot carries the bytes
		}
		d, _ := get("digest").(string)
		size, _ := get("size").(int64)
		c.Blobs = append(c.Blobs, BlobRef{Digest: d, Size: size})
	case "server_secrets":
		name, _ := get("name").(string)
		value, _ := get("value").(string)
		kekID, _ := get("kek_id").(string)
		c.Secrets = append(c.Secrets, Secret{Name: name, Value: value, KEKID: kekID})
	}
}

func encodeValue(v any, typ string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case "int":
		switch x := v.(type) {
		case int64:
			return x, nil
		case int32:
			return int64(x), nil
		case int16:
			return int64(x), nil
		case int:
			return int64(x), nil
		case bool:
			return boolInt(x), nil
		}
	case "float":
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case float32:
			f = float64(x)
		case int64:
			f = float64(x)
		default:
			return nil, fmt.Errorf("unexpected %T in a float column", v)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("non-finite float %v", f)
		}
		return f, nil
	case "bool":
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			return x != 0, nil
		}
	case "bytes":
		switch x := v.(type) {
		case []byte:
			return base64.StdEncoding.EncodeToString(x), nil
		case string:
			return base64.StdEncoding.EncodeToString([]byte(x)), nil
		}
	case "text":
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case []byte:
			s = string(x)
		default:
			return nil, fmt.Errorf("unexpected %T in a text column", v)
		}
		if !utf8.ValidString(s) {
			return map[string]string{"b64": base64.StdEncoding.EncodeToString([]byte(s))}, nil
		}
		return s, nil
	}
	return nil, fmt.Errorf("unexpected %T in a column of type %s", v, typ)
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// decodeValue converts a value read from a snapshot (json.Number for
// numbers) to what a column of type typ takes in the target database.
func decodeValue(v any, typ string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case "int":
		switch x := v.(type) {
		case json.Number:
			return x.Int64()
		case bool:
			return boolInt(x), nil
		}
	case "float":
		if x, ok := v.(json.Number); ok {
			return x.Float64()
		}
	case "bool":
		switch x := v.(type) {
		case bool:
			return x, nil
		case json.Number:
			n, err := x.Int64()
			return n != 0, err
		}
	case "bytes":
		if x, ok := v.(string); ok {
			return base64.StdEncoding.DecodeString(x)
		}
	case "text":
		switch x := v.(type) {
		case string:
			return x, nil
		case map[string]any:
			if s, ok := x["b64"].(string); ok {
				b, err := base64.StdEncoding.DecodeString(s)
				return string(b), err
			}
		}
	}
	return nil, fmt.Errorf("cannot store %T in a column of type %s", v, typ)
}

// snapshotReader reads a snapshot table by table.
type snapshotReader struct {
	Header snapshotHeader
	zr     *gzip.Reader
	dec    *json.Decoder
}

func newSnapshotReader(r io.Reader) (*snapshotReader, error) {
	zr, err := gzip.NewReader(bufio.NewReaderSize(r, 1<<16))
	if err != nil {
		return nil, fmt.Errorf("reading the metadata snapshot: %w", err)
	}
	dec := json.NewDecoder(zr)
	dec.UseNumber()
	s := &snapshotReader{zr: zr, dec: dec}
	if err := dec.Decode(&s.Header); err != nil {
		return nil, fmt.Errorf("reading the metadata snapshot's header: %w", err)
	}
	if s.Header.Format != snapshotFormat {
		return nil, fmt.Errorf("the metadata snapshot has format %q; this arca reads %q", s.Header.Format, snapshotFormat)
	}
	return s, nil
}

// each calls table for each table header and row for each of its rows.
func (s *snapshotReader) each(table func(tableHeader) error, row func(tableHeader, []any) error) error {
	var cur tableHeader
	for {
		var v any
		if err := s.dec.Decode(&v); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading the metadata snapshot: %w", err)
		}
		switch x := v.(type) {
		case map[string]any:
			h, err := parseTableHeader(x)
			if err != nil {
				return err
			}
			cur = h
			if err := table(cur); err != nil {
				return err
			}
		case []any:
			if cur.Table == "" || len(x) != len(cur.Columns) {
				return fmt.Errorf("reading the metadata snapshot: a row that fits no table header (after %q)", cur.Table)
			}
			if err := row(cur, x); err != nil {
				return err
			}
		default:
			return fmt.Errorf("reading the metadata snapshot: unexpected %T", v)
		}
	}
}

func parseTableHeader(m map[string]any) (tableHeader, error) {
	h := tableHeader{}
	h.Table, _ = m["table"].(string)
	strs := func(key string) []string {
		l, _ := m[key].([]any)
		out := make([]string, 0, len(l))
		for _, e := range l {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	h.Columns, h.Types = strs("columns"), strs("types")
	if h.Table == "" || len(h.Columns) == 0 || len(h.Columns) != len(h.Types) {
		return h, fmt.Errorf("reading the metadata snapshot: bad table header %v", m)
	}
	return h, nil
}
