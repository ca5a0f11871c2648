package usage_test

import (
	"context"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/usage"
)

// TestMeasure splits each repository's, owner's and format's bytes into
// unique and shared, counting content once however often it is stored.
func TestMeasure(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		do(t, s, "POST", "/api/v1/repositories", admin, `{"name":"x1","format":"raw","owner":"x"}`, 201)
		do(t, s, "POST", "/api/v1/repositories", admin, `{"name":"x2","format":"raw","owner":"x"}`, 201)
		do(t, s, "POST", "/api/v1/repositories", admin, `{"name":"y1","format":"raw","owner":"y"}`, 201)
		do(t, s, "PUT", "/raw/x1/u", admin, "1234567890", 201) // 10, x1 only
		do(t, s, "PUT", "/raw/x1/u-again", admin, "1234567890", 201)
		do(t, s, "PUT", "/raw/x1/s", admin, "shared-xx", 201) // 9, x1 and x2
		do(t, s, "PUT", "/raw/x2/s", admin, "shared-xx", 201)
		do(t, s, "PUT", "/raw/x2/t", admin, "shared-all", 201) // 10, x2 and y1
		do(t, s, "PUT", "/raw/y1/t", admin, "shared-all", 201)
		get := func(scope string) map[string]usage.Line {
			ls, err := usage.Measure(ctx, s.DB, scope)
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]usage.Line{}
			for _, l := range ls {
				m[l.Name] = l
			}
			return m
		}
		r := get(usage.ScopeRepository)
		for name, want := range map[string][2]int64{"x1": {19, 10}, "x2": {19, 0}, "y1": {10, 0}} {
			if l := r[name]; l.Bytes != want[0] || l.UniqueBytes != want[1] || l.SharedBytes != want[0]-want[1] {
				t.Errorf("repository %s = %+v, want %d bytes, %d unique", name, l, want[0], want[1])
			}
		}
		o := get(usage.ScopeOwner)
		if l := o["x"]; l.Bytes != 29 || l.UniqueBytes != 19 {
			t.Errorf("owner x = %+v, want 29 bytes, 19 unique", l)
		}
		if l := o["y"]; l.Bytes != 10 || l.UniqueBytes != 0 {
			t.Errorf("owner y = %+v", l)
		}
		if l := get(usage.ScopeFormat)["raw"]; l.Bytes != 29 || l.UniqueBytes != 29 {
			t.Errorf("format raw = %+v", l)
		}
		if ref, _, err := usage.Total(ctx, s.DB); err != nil || ref != 29 {
			t.Errorf("total = %d, %v", ref, err)
		}
	})
}
