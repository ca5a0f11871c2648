package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// opResult and listResult are what -json writes per measurement.
type opResult struct {
	Name   string  `json:"name"`
	OpsSec float64 `json:"ops_per_sec"`
	MBSec  float64 `json:"mb_per_sec"`
	P50ms  float64 `json:"p50_ms"`
	P99ms  float64 `json:"p99_ms"`
}

type listResult struct {
	Name  string  `json:"name"`
	P50ms float64 `json:"p50_ms"`
	P99ms float64 `json:"p99_ms"`
}

type runJSON struct {
	Ops   []opResult   `json:"ops"`
	Lists []listResult `json:"lists"`
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func writeJSON(path string, results []result, lists []listResult) error {
	var out runJSON
	for _, r := range results {
		sort.Slice(r.latency, func(i, j int) bool { return r.latency[i] < r.latency[j] })
		pct := func(p float64) float64 {
			if len(r.latency) == 0 {
				return 0
			}
			return ms(r.latency[min(len(r.latency)-1, int(float64(len(r.latency))*p))])
		}
		out.Ops = append(out.Ops, opResult{Name: r.name, OpsSec: float64(r.ops) / r.took.Seconds(),
			MBSec: float64(r.bytes) / r.took.Seconds() / 1e6, P50ms: pct(0.5), P99ms: pct(0.99)})
	}
	out.Lists = lists
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// printReport prints, per measurement, each server's median over its runs
// and the ratio of arca (the first label) to each other server: for rates
// arca/peer (above 1: arca is faster), for latencies peer/arca (above 1:
// arca is faster).
func printReport(spec string) error {
	var labels []string
	runs := map[string][]runJSON{}
	for _, item := range strings.Split(spec, ",") {
		label, file, ok := strings.Cut(item, ":")
		if !ok {
			return fmt.Errorf("-report: %q is not label:file", item)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		var r runJSON
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		if _, seen := runs[label]; !seen {
			labels = append(labels, label)
		}
		runs[label] = append(runs[label], r)
	}
	if len(labels) < 2 {
		return fmt.Errorf("-report needs runs of at least two servers")
	}
	arca, peers := labels[0], labels[1:]
	type key struct{ name, field string }
	vals := map[string]map[key][]float64{}
	var order []key
	seen := map[key]bool{}
	add := func(label string, k key, v float64) {
		if vals[label] == nil {
			vals[label] = map[key][]float64{}
		}
		vals[label][k] = append(vals[label][k], v)
		if !seen[k] {
			seen[k] = true
			order = append(order, k)
		}
	}
	for label, rs := range runs {
		for _, r := range rs {
			for _, o := range r.Ops {
				add(label, key{o.Name, "requests/s"}, o.OpsSec)
				if strings.Contains(o.Name, "MiB") {
					add(label, key{o.Name, "MB/s"}, o.MBSec)
				}
				add(label, key{o.Name, "p99 ms"}, o.P99ms)
			}
			for _, l := range r.Lists {
				add(label, key{l.Name, "p50 ms"}, l.P50ms)
				add(label, key{l.Name, "p99 ms"}, l.P99ms)
			}
		}
	}
	fmt.Printf("| measurement | %s |", arca)
	for _, p := range peers {
		fmt.Printf(" %s | %s/%s |", p, arca, p)
	}
	fmt.Printf("\n|---|---:|")
	for range peers {
		fmt.Printf("---:|---:|")
	}
	fmt.Println()
	for _, k := range order {
		a := median(vals[arca][k])
		fmt.Printf("| %s, %s | %.1f |", k.name, k.field, a)
		for _, p := range peers {
			v := median(vals[p][k])
			ratio := "-"
			switch {
			case a == 0 || v == 0:
			case strings.HasSuffix(k.field, "ms"):
				ratio = fmt.Sprintf("%.2f", v/a)
			default:
				ratio = fmt.Sprintf("%.2f", a/v)
			}
			fmt.Printf(" %.1f | %s |", v, ratio)
		}
		fmt.Println()
	}
	fmt.Printf("\nRatios: above 1 means arca is better (rates arca/peer, latencies peer/arca); medians over %d run(s) each.\n", len(runs[arca]))
	return nil
}
