package scan

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics exports the findings of all reports per severity, counted in
// the database at each scrape (so every replica reports the same).
type Metrics struct {
	Scanner *Scanner
	desc    *prometheus.Desc
}

// NewMetrics returns the collector; register it with the process registry.
func NewMetrics(s *Scanner) *Metrics {
	return &Metrics{Scanner: s, desc: prometheus.NewDesc("arca_scan_findings",
		"Vulnerability findings in the last scan report of every artifact, per severity.", []string{"severity"}, nil)}
}

func (m *Metrics) Describe(ch chan<- *prometheus.Desc) { ch <- m.desc }

func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := m.Scanner.Counts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(m.desc, err)
		return
	}
	for sev, n := range counts {
		ch <- prometheus.MustNewConstMetric(m.desc, prometheus.GaugeValue, float64(n), sev)
	}
}
