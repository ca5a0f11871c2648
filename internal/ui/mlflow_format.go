package ui

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Display helpers of MLflow rows, called from the templates as methods.

// DisplayName is the run's name, or the start of its id when it has none.
func (r runRow) DisplayName() string {
	if r.Name != "" {
		return r.Name
	}
	return shortRunID(r.UUID)
}

func shortRunID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// Running reports whether the run has not ended.
func (r runRow) Running() bool { return r.Status == "RUNNING" || r.Status == "SCHEDULED" }

// DurationMillis is how long the run took (or has taken so far); -1 when
// it has no start time.
func (r runRow) DurationMillis() int64 {
	if r.Start == 0 {
		return -1
	}
	end := r.End
	if end == 0 {
		if !r.Running() {
			return -1
		}
		end = time.Now().UnixMilli()
	}
	return max(end-r.Start, 0)
}

// Duration writes the run's duration compactly: 850 ms, 12.3 s, 4 min 5 s,
// 2 h 3 min, 3 d 4 h; "" when unknown.
func (r runRow) Duration() string {
	ms := r.DurationMillis()
	if ms < 0 {
		return ""
	}
	return formatMillis(ms)
}

func formatMillis(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", ms)
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d d %d h", int(d.Hours())/24, int(d.Hours())%24)
}

// Text writes a metric value: integers as they are, others with up to six
// significant digits; NaN and infinities by name.
func (m latestMetric) Text() string {
	if m.NaN {
		return "NaN"
	}
	return metricText(m.Value)
}

// Full is the value with every digit, for a tooltip.
func (m latestMetric) Full() string {
	if m.NaN {
		return "NaN"
	}
	return strconv.FormatFloat(m.Value, 'g', -1, 64)
}

func metricText(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	}
	return chartValue(v)
}

// StatusText is the logged model's status without its prefix: ready,
// pending, upload_failed.
func (m loggedModelRow) StatusText() string {
	return strings.ToLower(strings.TrimPrefix(m.Status, "LOGGED_MODEL_"))
}

// ShortRun abbreviates the id of the version's run.
func (v modelVersionRow) ShortRun() string { return shortRunID(v.RunID) }

// SourceText is where a dataset came from, shortly: the URI, URL or path
// of its source when the source (JSON, as MLflow stores it) names one, the
// script of a dataset made in code, else the source as it is, cut at 300
// characters.
func (d datasetRow) SourceText() string {
	var src map[string]any
	if json.Unmarshal([]byte(d.Source), &src) == nil {
		for _, k := range []string{"uri", "url", "path", "table_name", "dataset_name"} {
			if s, ok := src[k].(string); ok && s != "" {
				return s
			}
		}
		if tags, ok := src["tags"].(map[string]any); ok {
			if s, ok := tags["mlflow.source.name"].(string); ok && s != "" {
				return s
			}
		}
	}
	if len(d.Source) > 300 {
		return strings.ToValidUTF8(d.Source[:300], "") + "…"
	}
	return d.Source
}
