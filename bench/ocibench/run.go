package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

func run(cfg config) (Result, error) {
	c := newClient(cfg)
	res := Result{Target: cfg.target, URL: cfg.base.String(), Repo: cfg.repo, Started: time.Now().UTC()}
	if err := c.ping(); err != nil {
		return res, err
	}

	// 1, 2: large blobs, one at a time.
	if cfg.largeCount > 0 {
		size := cfg.largeMiB << 20
		c.logf("generating %d x %d MiB", cfg.largeCount, cfg.largeMiB)
		large := makeBlobs(cfg.largeCount, size)
		label := fmt.Sprintf("push %d MiB blob: HEAD, POST, 1 streamed PATCH, PUT", cfg.largeMiB)
		var total time.Duration
		var samples []float64
		var steps [4][]float64
		for i, bd := range large {
			if err := c.phase(fmt.Sprintf("push large %d/%d", i+1, len(large))); err != nil {
				return res, err
			}
			t0 := time.Now()
			st, err := c.pushStreamed(bd.b, bd.digest)
			if err != nil {
				return res, fmt.Errorf("%s: %w", label, err)
			}
			d := time.Since(t0)
			total += d
			samples = append(samples, mbps(int64(size), d))
			for j := range st {
				steps[j] = append(steps[j], ms(st[j]))
			}
		}
		res.add(Metric{Key: "large_push", Label: label, Unit: "MB/s", Value: mbps(int64(size*len(large)), total), Higher: true, Samples: samples})
		for j, name := range []string{"HEAD", "POST", "PATCH", "PUT"} {
			res.add(Metric{Key: "large_push_step_" + strings.ToLower(name), Label: fmt.Sprintf("push %d MiB blob: time in %s", cfg.largeMiB, name),
				Unit: "ms", Value: median(steps[j]), Samples: steps[j], Detail: true})
		}

		if cfg.monolithic {
			mono := makeBlobs(cfg.largeCount, size)
			label := fmt.Sprintf("push %d MiB blob: POST, PUT with body (monolithic)", cfg.largeMiB)
			total, samples = 0, nil
			for i, bd := range mono {
				if err := c.phase(fmt.Sprintf("push large monolithic %d/%d", i+1, len(mono))); err != nil {
					return res, err
				}
				t0 := time.Now()
				if err := c.pushMonolithic(bd.b, bd.digest); err != nil {
					return res, fmt.Errorf("%s: %w", label, err)
				}
				d := time.Since(t0)
				total += d
				samples = append(samples, mbps(int64(size), d))
			}
			res.add(Metric{Key: "large_push_mono", Label: label, Unit: "MB/s", Value: mbps(int64(size*len(mono)), total), Higher: true, Samples: samples})
		}

		label = fmt.Sprintf("pull %d MiB blob: GET", cfg.largeMiB)
		total, samples = 0, nil
		for i, bd := range large {
			if err := c.phase(fmt.Sprintf("pull large %d/%d", i+1, len(large))); err != nil {
				return res, err
			}
			t0 := time.Now()
			if err := c.pull(bd.b, bd.digest); err != nil {
				return res, fmt.Errorf("%s: %w", label, err)
			}
			d := time.Since(t0)
			total += d
			samples = append(samples, mbps(int64(size), d))
		}
		res.add(Metric{Key: "large_pull", Label: label, Unit: "MB/s", Value: mbps(int64(size*len(large)), total), Higher: true, Samples: samples})
	}

	// 3: small blobs at concurrency.
	if cfg.smallCount > 0 {
		size := cfg.smallKiB << 10
		small := makeBlobs(cfg.smallCount, size)
		what := fmt.Sprintf("%s blobs x %d, concurrency %d", sizeName(size), cfg.smallCount, cfg.concurrency)
		if err := c.phase("push small"); err != nil {
			return res, err
		}
		wall, lat, err := parallel(len(small), cfg.concurrency, func(i int) error {
			_, err := c.pushStreamed(small[i].b, small[i].digest)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("push %s: %w", what, err)
		}
		addRate(&res, "small_push", "push "+what, len(small), int64(size), wall, lat)

		if err := c.phase("pull small"); err != nil {
			return res, err
		}
		wall, lat, err = parallel(len(small), cfg.concurrency, func(i int) error { return c.pull(small[i].b, small[i].digest) })
		if err != nil {
			return res, fmt.Errorf("pull %s: %w", what, err)
		}
		addRate(&res, "small_pull", "pull "+what, len(small), int64(size), wall, lat)
	}

	// 4: small manifests, by tag.
	if cfg.manifests > 0 && len(cfg.manConc) > 0 {
		if err := c.phase("manifest setup"); err != nil {
			return res, err
		}
		cfgBlob := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}`)
		layer := make([]byte, 1024)
		fillRandom(layer, newSeed())
		cfgDigest, layerDigest := digestOf(cfgBlob), digestOf(layer)
		for _, b := range []blobData{{cfgBlob, cfgDigest}, {layer, layerDigest}} {
			if err := c.pushMonolithic(b.b, b.digest); err != nil {
				return res, fmt.Errorf("manifest setup: %w", err)
			}
		}
		seed := newSeed()
		run := binary.BigEndian.Uint32(seed[:4])
		for _, conc := range cfg.manConc {
			docs := make([][]byte, cfg.manifests)
			digests := make([]string, cfg.manifests)
			for i := range docs {
				docs[i] = []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
					`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
					`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}],`+
					`"annotations":{"org.example.ocibench.run":"%08x","org.example.ocibench.index":"%d"}}`,
					cfgDigest, len(cfgBlob), layerDigest, len(layer), run, i))
				digests[i] = digestOf(docs[i])
			}
			tag := func(i int) string { return fmt.Sprintf("c%d-%05d", conc, i) }
			what := fmt.Sprintf("%d manifests by tag, concurrency %d", cfg.manifests, conc)
			if err := c.phase("manifest put " + what); err != nil {
				return res, err
			}
			wall, lat, err := parallel(cfg.manifests, conc, func(i int) error {
				resp, err := c.call("PUT manifest", []int{201}, "PUT", c.url("/manifests/"+tag(i)), bytes.NewReader(docs[i]), int64(len(docs[i])),
					"Content-Type", "application/vnd.oci.image.manifest.v1+json")
				if err != nil {
					return err
				}
				drain(resp)
				if got := resp.Header.Get("Docker-Content-Digest"); got != digests[i] {
					return fmt.Errorf("PUT manifest: Docker-Content-Digest %q, want %s", got, digests[i])
				}
				return nil
			})
			if err != nil {
				return res, fmt.Errorf("put %s: %w", what, err)
			}
			addOps(&res, fmt.Sprintf("manifest_put_c%d", conc), "put "+what, cfg.manifests, wall, lat)

			if err := c.phase("manifest get " + what); err != nil {
				return res, err
			}
			wall, lat, err = parallel(cfg.manifests, conc, func(i int) error {
				resp, err := c.call("GET manifest", []int{200}, "GET", c.url("/manifests/"+tag(i)), nil, 0,
					"Accept", "application/vnd.oci.image.manifest.v1+json")
				if err != nil {
					return err
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					return fmt.Errorf("GET manifest: %w", err)
				}
				if !bytes.Equal(body, docs[i]) {
					return fmt.Errorf("GET manifest %s: body differs from the one put", tag(i))
				}
				if got := resp.Header.Get("Docker-Content-Digest"); got != digests[i] {
					return fmt.Errorf("GET manifest: Docker-Content-Digest %q, want %s", got, digests[i])
				}
				return nil
			})
			if err != nil {
				return res, fmt.Errorf("get %s: %w", what, err)
			}
			addOps(&res, fmt.Sprintf("manifest_get_c%d", conc), "get "+what, cfg.manifests, wall, lat)
		}
	}
	return res, nil
}

func sizeName(size int) string {
	if size%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", size>>20)
	}
	return fmt.Sprintf("%d KiB", size>>10)
}

func addRate(res *Result, key, label string, n int, size int64, wall time.Duration, lat []float64) {
	res.add(Metric{Key: key + "_rate", Label: label, Unit: "blobs/s", Value: float64(n) / wall.Seconds(), Higher: true})
	res.add(Metric{Key: key + "_mbps", Label: label, Unit: "MB/s", Value: mbps(size*int64(n), wall), Higher: true})
	res.add(Metric{Key: key + "_p50", Label: label, Unit: "ms p50", Value: percentile(lat, 50)})
	res.add(Metric{Key: key + "_p99", Label: label, Unit: "ms p99", Value: percentile(lat, 99)})
}

func addOps(res *Result, key, label string, n int, wall time.Duration, lat []float64) {
	res.add(Metric{Key: key + "_rate", Label: label, Unit: "ops/s", Value: float64(n) / wall.Seconds(), Higher: true})
	res.add(Metric{Key: key + "_p50", Label: label, Unit: "ms p50", Value: percentile(lat, 50)})
	res.add(Metric{Key: key + "_p99", Label: label, Unit: "ms p99", Value: percentile(lat, 99)})
}

func printResult(w io.Writer, res Result) {
	fmt.Fprintf(w, "%s (%s, %s)\n", res.Target, res.URL, res.Repo)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, m := range res.Metrics {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", m.Label, fmtNum(m.Value), m.Unit)
	}
	tw.Flush()
}
