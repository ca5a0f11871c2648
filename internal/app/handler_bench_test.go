package app_test

import (
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// BenchmarkHandler builds the main and S3 handlers, as every start does
// before it listens (part of the cold start, bench/coldstart.sh).
func BenchmarkHandler(b *testing.B) {
	s := apptest.Start(b, "", nil)
	for b.Loop() {
		s.App.Handler()
		s.App.S3Handler()
	}
}
