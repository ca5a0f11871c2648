package backup

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Schedule is the configuration of scheduled backups, the `backup:` section
// that docs/operations.md describes:
//
//	backup:
//	  to: s3://backups/arca        # or a directory
//	  s3_endpoint: https://arca-dr.example.com:9000
//	  interval: 24h
//	  keep: 7                      # the newest 7 ...
//	  keep_days: 30                # ... and every one younger than 30 days
//
// Nothing runs it on a timer yet: the job runner (one durable queue, one
// leader for periodic jobs across processes) calls RunScheduled once per
// Interval when it lands. arca keeps no ticker of its own for it, so that
// several processes never back up at once.
type Schedule struct {
	To       string
	S3       S3Options
	Interval time.Duration
	Retention
}

// RunScheduled is the scheduled-backup job: one backup of src to s.To,
// then, when s sets a retention, a prune of what it no longer keeps. The
// job runner calls it; progress lines go to progress (nil for none).
func RunScheduled(ctx context.Context, src Source, s Schedule, progress io.Writer) (Manifest, PruneReport, error) {
	t, err := OpenTarget(ctx, s.To, s.S3)
	if err != nil {
		return Manifest{}, PruneReport{}, err
	}
	m, err := Run(ctx, src, t, Options{Progress: progress})
	if err != nil {
		return m, PruneReport{}, fmt.Errorf("scheduled backup to %s: %w", t, err)
	}
	if s.Keep <= 0 && s.KeepDays <= 0 {
		return m, PruneReport{}, nil
	}
	rep, err := Prune(ctx, t, s.Retention, time.Now(), false)
	return m, rep, err
}
