package oci

import (
	"net/url"
	"strconv"
	"testing"
)

func TestPageParams(t *testing.T) {
	for _, c := range []struct {
		query string
		n     int
		paged bool
		ok    bool
	}{
		{"", 10000, false, true},
		{"n=0", 0, true, true},
		{"n=2&last=b", 2, true, true},
		{"n=99999999", 10000, true, true},
		{"n=-1", 0, false, false},
		{"n=x", 0, false, false},
		{"n=99999999999999999999999", 0, false, false},
	} {
		q, _ := url.ParseQuery(c.query)
		n, _, paged, err := pageParams(q)
		if (err == nil) != c.ok || (c.ok && (n != c.n || paged != c.paged)) {
			t.Errorf("pageParams(%q) = %d, %v, %v", c.query, n, paged, err)
		}
	}
}

// FuzzPageParams checks that whatever n and last a client sends, the
// parser either refuses it or yields a limit that cutPage (and the Link
// header's last item) can use without panicking.
func FuzzPageParams(f *testing.F) {
	f.Add("0", "", 3)
	f.Add("2", "b", 5)
	f.Add("-1", "a", 0)
	f.Add("10001", "", 20000)
	f.Add("+5", "x", 1)
	f.Fuzz(func(t *testing.T, n, last string, count int) {
		q := url.Values{"n": {n}, "last": {last}}
		limit, gotLast, paged, err := pageParams(q)
		if err != nil {
			return
		}
		if limit < 0 || limit > 10000 || paged != (n != "") || gotLast != last {
			t.Fatalf("pageParams(n=%q) = %d, %q, %v", n, limit, gotLast, paged)
		}
		count = min(max(count, 0), 20001)
		items := make([]string, count)
		for i := range items {
			items[i] = strconv.Itoa(i)
		}
		page, more := cutPage(items, limit)
		if page == nil || len(page) > limit || (more && len(page) == 0) || more != (count > limit && limit > 0) {
			t.Fatalf("cutPage(%d items, %d) = %d items, more %v", count, limit, len(page), more)
		}
		if more {
			_ = page[len(page)-1] // what the Link header names
		}
	})
}
