package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ---------------------------------------------------------------------------
// report: arca vs peer

func cmdReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	aFiles := fs.String("a", "", "comma-separated run results of the first registry (arca)")
	bFiles := fs.String("b", "", "comma-separated run results of the second registry (the peer)")
	aName := fs.String("a-name", "arca", "name of the first registry")
	bName := fs.String("b-name", "distribution", "name of the second registry")
	refFiles := fs.String("ref", "", "comma-separated ref results (medians across them are shown)")
	var extra multiFlag
	fs.Var(&extra, "extra", "extra reference line \"label=value\" in MB/s (repeatable)")
	fs.Parse(args)

	load := func(list string) ([]Result, error) {
		var out []Result
		for _, p := range strings.Split(list, ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			r, err := readResult(p)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, nil
	}
	as, err := load(*aFiles)
	if err != nil {
		return err
	}
	bs, err := load(*bFiles)
	if err != nil {
		return err
	}
	refs, err := load(*refFiles)
	if err != nil {
		return err
	}
	if len(as) == 0 || len(bs) == 0 {
		return errors.New("report: need -a and -b results")
	}

	// Metric order is that of the first result of a.
	type row struct {
		m        Metric
		av, bv   []float64
		aMed, bM float64
	}
	var rows []*row
	byKey := map[string]*row{}
	for _, m := range as[0].Metrics {
		r := &row{m: m}
		rows = append(rows, r)
		byKey[m.Key] = r
	}
	for _, res := range as {
		for _, m := range res.Metrics {
			if r := byKey[m.Key]; r != nil {
				r.av = append(r.av, m.Value)
			}
		}
	}
	for _, res := range bs {
		for _, m := range res.Metrics {
			if r := byKey[m.Key]; r != nil {
				r.bv = append(r.bv, m.Value)
			}
		}
	}
	join := func(v []float64) string {
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = fmtNum(x)
		}
		return strings.Join(s, " ")
	}
	table := func(detail bool) {
		fmt.Printf("| measurement | unit | %s | %s | %s/%s | better | %s runs | %s runs |\n", *aName, *bName, *aName, *bName, *aName, *bName)
		fmt.Println("|---|---|---:|---:|---:|---|---|---|")
		for _, r := range rows {
			if r.m.Detail != detail {
				continue
			}
			ratio := r.aMed / r.bM
			better := *aName
			if (r.m.Higher && r.aMed < r.bM) || (!r.m.Higher && r.aMed > r.bM) {
				better = *bName
			}
			unit := r.m.Unit
			if !r.m.Higher {
				unit += " (lower is better)"
			}
			fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.m.Label, unit, fmtNum(r.aMed), fmtNum(r.bM),
				strconv.FormatFloat(ratio, 'f', 2, 64), better, join(r.av), join(r.bv))
		}
	}
	hasDetail := false
	for _, r := range rows {
		r.aMed, r.bM = median(r.av), median(r.bv)
		hasDetail = hasDetail || r.m.Detail
	}
	table(false)
	if hasDetail {
		fmt.Println()
		fmt.Println("Where a large push spends its time (median per request, all runs):")
		fmt.Println()
		table(true)
	}

	// Reference speeds and how the large-blob lines compare with them.
	refVals := map[string][]float64{}
	refLabels := map[string]string{}
	var refOrder []string
	for _, res := range refs {
		for _, m := range res.Metrics {
			if _, ok := refLabels[m.Key]; !ok {
				refOrder = append(refOrder, m.Key)
				refLabels[m.Key] = m.Label
			}
			if len(refs) == 1 && len(m.Samples) > 0 {
				refVals[m.Key] = append(refVals[m.Key], m.Samples...)
			} else {
				refVals[m.Key] = append(refVals[m.Key], m.Value)
			}
		}
	}
	if len(refOrder) == 0 && len(extra) == 0 {
		return nil
	}
	fmt.Println()
	fmt.Println("| reference (same run) | MB/s | runs |")
	fmt.Println("|---|---:|---|")
	for _, k := range refOrder {
		fmt.Printf("| %s | %s | %s |\n", refLabels[k], fmtNum(median(refVals[k])), join(refVals[k]))
	}
	for _, e := range extra {
		i := strings.LastIndex(e, "=")
		if i < 0 {
			return fmt.Errorf("report: -extra %q is not label=value", e)
		}
		label, vals := e[:i], strings.Fields(e[i+1:])
		var fv []float64
		for _, s := range vals {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return fmt.Errorf("report: -extra %q: %w", e, err)
			}
			fv = append(fv, f)
		}
		fmt.Printf("| %s | %s | %s |\n", label, fmtNum(median(fv)), join(fv))
		refVals["extra:"+label] = fv
	}
	fmt.Println()
	refs2 := []struct{ key, line, what string }{
		{"sha256_mem", "large_push", "large push / Go SHA-256 in memory"},
		{"http_put_store", "large_push", "large push / minimal durable PUT server"},
		{"read_file", "large_pull", "large pull / file read (Go)"},
		{"http_get_sendfile", "large_pull", "large pull / minimal GET server (sendfile)"},
		{"http_get_copy", "large_pull", "large pull / minimal GET server (32 KiB copy)"},
	}
	for _, name := range []string{*aName, *bName} {
		var parts []string
		for _, x := range refs2 {
			r, ref := byKey[x.line], median(refVals[x.key])
			if r == nil || math.IsNaN(ref) || ref <= 0 {
				continue
			}
			v := r.aMed
			if name == *bName {
				v = r.bM
			}
			parts = append(parts, fmt.Sprintf("%s = %.0f%%", x.what, 100*v/ref))
		}
		if len(parts) > 0 {
			fmt.Printf("- %s: %s\n", name, strings.Join(parts, "; "))
		}
	}
	return nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
