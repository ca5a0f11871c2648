package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/meta/metatest"
	"github.com/arcaproject/arca/internal/webhook"
)

// TestEventsOfEveryFormat drives a change of every format and checks each
// arrives, signed, at a global subscription; that a repository's
// subscription hears only its repository and its filter; that a Slack
// subscription gets text; and that the delivery log shows each attempt.
func TestEventsOfEveryFormat(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		startJobs(t, s)
		rc := newReceiver(t)
		global := subscribe(t, s, rc, "/api/v1/webhooks", admin, "/global", "")
		subscribe(t, s, rc, "/api/v1/repositories/files/webhooks", admin, "/files", `,"events":["io.arca.raw.*"]`)
		subscribe(t, s, rc, "/api/v1/repositories/library/webhooks", admin, "/library-slack",
			`,"events":["io.arca.oci.manifest.pushed"],"payload_format":"slack"`)
		const g = "/global"

		// raw
		do(t, s, "PUT", "/raw/files/reports/a.txt", admin, "hello", 201)
		ev := rc.waitType(g, webhook.TypeRawUploaded, "reports/a.txt")
		if ev.ce.Data.Repository != "files" || ev.ce.Data.Actor != "admin" || ev.ce.Source != "/api/v1/repositories/files" ||
			ev.ce.DataContentType != "application/json" || ev.ce.Data.Detail["digest"] != sha([]byte("hello")) {
			t.Errorf("raw upload event = %+v", ev.ce)
		}
		do(t, s, "DELETE", "/raw/files/reports/a.txt", admin, "", 204)
		rc.waitType(g, webhook.TypeRawDeleted, "reports/a.txt")
		rc.waitType("/files", webhook.TypeRawDeleted, "reports/a.txt")

		// OCI: manifest push, tag delete, manifest delete
		d := pushImage(t, s, "library/app", "v1", []byte("layer"))
		rc.waitType(g, webhook.TypeOCIManifestPushed, "app@"+d)
		slack := rc.wait("/library-slack", func(r received) bool { return strings.Contains(r.text, "oci.manifest.pushed") }, "slack text")
		if !strings.Contains(slack.text, "library") || !strings.Contains(slack.text, d) {
			t.Errorf("slack text = %q", slack.text)
		}
		do(t, s, "DELETE", "/v2/library/app/manifests/v1", admin, "", 202)
		rc.waitType(g, webhook.TypeOCITagDeleted, "app:v1")
		do(t, s, "DELETE", "/v2/library/app/manifests/"+d, admin, "", 202)
		rc.waitType(g, webhook.TypeOCIManifestDeleted, d)

		// PyPI
		file := uploadWheel(t, s, "hooked", "1.0")
		rc.waitType(g, webhook.TypePyPIUploaded, file)
		do(t, s, "DELETE", "/api/v1/pypi/pypi-hosted/hooked/1.0", admin, "", 200)
		rc.waitType(g, webhook.TypePyPIDeleted, file)

		// npm: publish, dist-tag, unpublish
		publishNPM(t, s, "hooked-pkg", "1.0.0")
		rc.waitType(g, webhook.TypeNPMPublished, "hooked-pkg@1.0.0")
		do(t, s, "PUT", "/npm/npm-hosted/-/package/hooked-pkg/dist-tags/beta", admin, `"1.0.0"`, 201, "Content-Type", "application/json")
		rc.waitType(g, webhook.TypeNPMDistTags, "hooked-pkg")
		rev := jsonString(t, do(t, s, "GET", "/npm/npm-hosted/hooked-pkg", admin, "", 200), "_rev")
		do(t, s, "DELETE", "/npm/npm-hosted/hooked-pkg/-rev/"+rev, admin, "", 200)
		rc.waitType(g, webhook.TypeNPMUnpublished, "hooked-pkg") // the whole package: its name

		// Maven
		do(t, s, "PUT", "/maven/maven-hosted/com/example/hooked/1.0/hooked-1.0.jar", admin, "jar bytes", 201)
		rc.waitType(g, webhook.TypeMavenDeployed, "hooked-1.0.jar")
		do(t, s, "DELETE", "/maven/maven-hosted/com/example/hooked/1.0/hooked-1.0.jar", admin, "", 204)
		rc.waitType(g, webhook.TypeMavenDeleted, "hooked-1.0.jar")
		// A snapshot build that snapshot_keep removes is a deletion too.
		do(t, s, "PATCH", "/api/v1/repositories/maven-hosted", admin, `{"settings":{"snapshot_keep":1}}`, 200)
		snap := "/maven/maven-hosted/com/example/hooked/2.0-SNAPSHOT/hooked-2.0-"
		do(t, s, "PUT", snap+"20260101.000001-1.jar", admin, "build 1", 201)
		do(t, s, "PUT", snap+"20260101.000002-2.jar", admin, "build 2", 201)
		if ev := rc.waitType(g, webhook.TypeMavenDeleted, "hooked-2.0-20260101.000001-1.jar"); ev.ce.Data.Detail["reason"] != "snapshot_keep" ||
			ev.ce.Data.Detail["digest"] != sha([]byte("build 1")) {
			t.Errorf("snapshot prune event = %+v", ev.ce)
		}

		// Go and Helm
		do(t, s, "PUT", "/go/go-hosted/example.com/hooked/@v/v1.0.0.zip", admin, goZip(t, "example.com/hooked", "v1.0.0"), 201)
		rc.waitType(g, webhook.TypeGoPublished, "example.com/hooked@v1.0.0")
		do(t, s, "DELETE", "/go/go-hosted/example.com/hooked/@v/v1.0.0", admin, "", 204)
		if ev := rc.waitType(g, webhook.TypeGoDeleted, "example.com/hooked@v1.0.0"); !strings.HasPrefix(fmt.Sprint(ev.ce.Data.Detail["digest"]), "sha256:") ||
			!strings.HasPrefix(fmt.Sprint(ev.ce.Data.Detail["h1"]), "h1:") {
			t.Errorf("go delete event = %+v", ev.ce)
		}
		chart := helmChart(t, "hooked", "1.0.0")
		do(t, s, "POST", "/helm/helm-hosted/api/charts", admin, chart, 201)
		rc.waitType(g, webhook.TypeHelmUploaded, "hooked-1.0.0")
		do(t, s, "DELETE", "/helm/helm-hosted/api/charts/hooked/1.0.0", admin, "", 200)
		if ev := rc.waitType(g, webhook.TypeHelmDeleted, "hooked-1.0.0"); ev.ce.Data.Detail["digest"] != sha([]byte(chart)) {
			t.Errorf("helm delete event = %+v", ev.ce)
		}

		// S3
		c := s3Client(t, s)
		ctx := context.Background()
		if _, err := c.PutObject(ctx, &s3sdk.PutObjectInput{Bucket: aws.String("dvc-storage"), Key: aws.String("data/x.bin"), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
		rc.waitType(g, webhook.TypeS3ObjectCreated, "data/x.bin")
		if _, err := c.DeleteObject(ctx, &s3sdk.DeleteObjectInput{Bucket: aws.String("dvc-storage"), Key: aws.String("data/x.bin")}); err != nil {
			t.Fatal(err)
		}
		rc.waitType(g, webhook.TypeS3ObjectDeleted, "data/x.bin")

		// Repositories
		do(t, s, "POST", "/api/v1/repositories", admin, `{"name":"hooked","format":"raw","kind":"hosted"}`, 201)
		rc.waitType(g, webhook.TypeRepositoryCreated, "")
		do(t, s, "DELETE", "/api/v1/repositories/hooked", admin, "", 204)
		rc.waitType(g, webhook.TypeRepositoryDeleted, "")

		// MLflow: a model version, then its alias
		exp := mlflow(t, s, "experiments/create", `{"name":"hooks"}`)["experiment_id"].(string)
		run := mlflow(t, s, "runs/create", `{"experiment_id":"`+exp+`"}`)["run"].(map[string]any)["info"].(map[string]any)["run_id"].(string)
		mlflow(t, s, "registered-models/create", `{"name":"clf"}`)
		mlflow(t, s, "model-versions/create", `{"name":"clf","source":"runs:/`+run+`/model","run_id":"`+run+`"}`)
		rc.waitType(g, webhook.TypeMLflowModelVersionCreated, "clf")
		mlflow(t, s, "registered-models/alias", `{"name":"clf","alias":"champion","version":"1"}`)
		if ev := rc.waitType(g, webhook.TypeMLflowAliasMoved, "clf"); ev.ce.Data.Detail["alias"] != "champion" {
			t.Errorf("alias event = %+v", ev.ce)
		}

		// Quota exceeded (audited by the registry's quota check)
		do(t, s, "POST", "/api/v1/repositories", admin, `{"name":"tiny","format":"oci","kind":"hosted","settings":{"quota_bytes":10}}`, 201)
		big := strings.Repeat("q", 100)
		do(t, s, "POST", "/v2/tiny/app/blobs/uploads/?digest="+sha([]byte(big)), admin, big, 403)
		if ev := rc.waitType(g, webhook.TypeQuotaExceeded, ""); ev.ce.Data.Repository != "tiny" || ev.ce.Data.Detail["quota_bytes"] != float64(10) {
			t.Errorf("quota event = %+v", ev.ce)
		}

		// What other features emit: scan and replication by audit
		// events, a refused download by Emit.
		s.Audit.Record(ctx, audit.Event{Actor: "scanner", Action: webhook.ActionScanCompleted, Repository: "library", Subject: "app@" + d,
			Detail: map[string]any{"critical": 1, "high": 2}})
		if ev := rc.waitType(g, webhook.TypeScanCompleted, d); ev.ce.Data.Detail["critical"] != float64(1) {
			t.Errorf("scan event = %+v", ev.ce)
		}
		s.Audit.Record(ctx, audit.Event{Actor: "replication", Action: webhook.ActionReplicationFinished, Repository: "library", Subject: "rule/1"})
		rc.waitType(g, webhook.TypeReplicationFinished, "rule/1")
		if n, err := s.Webhooks.Emit(ctx, webhook.Event{Type: webhook.TypePolicyBlocked, Repository: "library", Subject: "app@" + d,
			Detail: map[string]any{"advisory": "GHSA-xxxx"}}); err != nil || n != 1 {
			t.Errorf("Emit = %d, %v; want 1 delivery (the global subscription)", n, err)
		}
		rc.waitType(g, webhook.TypePolicyBlocked, d)

		// The repository subscription heard only its raw events.
		for _, r := range rc.all() {
			if r.path == "/files" && (r.ce.Data.Repository != "files" || !strings.HasPrefix(r.ce.Type, "io.arca.raw.")) {
				t.Errorf("files subscription got %s of %s", r.ce.Type, r.ce.Data.Repository)
			}
			if r.path == "/library-slack" && !strings.Contains(r.text, "oci.manifest.pushed") {
				t.Errorf("slack subscription got %q", r.text)
			}
		}

		// The delivery log.
		var log []webhook.Delivery
		json.Unmarshal([]byte(do(t, s, "GET", fmt.Sprintf("/api/v1/webhooks/%d/deliveries?limit=200", global.ID), admin, "", 200)), &log)
		if len(log) < 20 {
			t.Fatalf("delivery log has %d entries", len(log))
		}
		var one webhook.Delivery
		json.Unmarshal([]byte(do(t, s, "GET", fmt.Sprintf("/api/v1/webhooks/%d/deliveries/%d", global.ID, log[len(log)-1].ID), admin, "", 200)), &one)
		if one.State != webhook.StateDelivered || one.EventType != webhook.TypeRawUploaded || len(one.AttemptLog) != 1 ||
			one.AttemptLog[0].StatusCode != 200 || one.AttemptLog[0].Response != "thanks" || one.AttemptLog[0].Attempt != 1 || len(one.Payload) == 0 {
			t.Errorf("first delivery = %+v", one)
		}
		// A repository's delivery is not reachable under another scope.
		do(t, s, "GET", fmt.Sprintf("/api/v1/repositories/files/webhooks/%d", global.ID), admin, "", 404)
	})
}

// TestRedelivery: a receiver that answers 503 gets the event on river's
// retry once it recovers; one that is stopped until the last attempt
// failed gets it from the redeliver action.
func TestRedelivery(t *testing.T) {
	each(t, func(c *config.Config) {
		c.Webhooks.MaxAttempts = 2
		c.Webhooks.Timeout = config.Duration(2 * time.Second)
	}, func(t *testing.T, s *apptest.Server) {
		startJobs(t, s)
		rc := newReceiver(t)
		sub := subscribe(t, s, rc, "/api/v1/repositories/files/webhooks", admin, "/r", `,"secret":"a-secret-of-my-own-choosing"`)
		if sub.Secret != "a-secret-of-my-own-choosing" {
			t.Fatalf("secret = %q", sub.Secret)
		}
		base := fmt.Sprintf("/api/v1/repositories/files/webhooks/%d", sub.ID)
		deliveries := func() []webhook.Delivery {
			var ds []webhook.Delivery
			json.Unmarshal([]byte(do(t, s, "GET", base+"/deliveries", admin, "", 200)), &ds)
			return ds
		}
		waitState := func(id int64, state string) webhook.Delivery {
			t.Helper()
			deadline := time.Now().Add(60 * time.Second)
			for {
				var d webhook.Delivery
				json.Unmarshal([]byte(do(t, s, "GET", fmt.Sprintf("%s/deliveries/%d", base, id), admin, "", 200)), &d)
				if d.State == state {
					return d
				}
				if time.Now().After(deadline) {
					t.Fatalf("delivery %d is %s, want %s: %+v", id, d.State, state, d)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}

		// 503, then the retry succeeds.
		rc.answer(503)
		do(t, s, "PUT", "/raw/files/down.txt", admin, "x", 201)
		first := deliveries()[0]
		retrying := waitState(first.ID, webhook.StateRetrying)
		if retrying.LastStatus != 503 || len(retrying.AttemptLog) != 1 || !strings.Contains(retrying.AttemptLog[0].Response, "maintenance") {
			t.Errorf("after a 503: %+v", retrying)
		}
		rc.answer(200)
		done := waitState(first.ID, webhook.StateDelivered)
		if done.Attempts != 2 || len(done.AttemptLog) != 2 || done.AttemptLog[1].StatusCode != 200 {
			t.Errorf("after the retry: %+v", done)
		}
		rc.waitType("/r", webhook.TypeRawUploaded, "down.txt")

		// Stopped through every attempt: failed; back up, redeliver.
		rc.stop()
		do(t, s, "PUT", "/raw/files/gone.txt", admin, "x", 201)
		lost := deliveries()[0]
		failed := waitState(lost.ID, webhook.StateFailed)
		if failed.Attempts != 2 || failed.AttemptLog[1].Error == "" || failed.AttemptLog[1].StatusCode != 0 {
			t.Errorf("after the receiver stayed down: %+v", failed)
		}
		rc.restart()
		var again webhook.Delivery
		json.Unmarshal([]byte(do(t, s, "POST", fmt.Sprintf("%s/deliveries/%d/redeliver", base, lost.ID), admin, "", 202)), &again)
		if again.RedeliveryOf != lost.ID || again.EventID != lost.EventID || again.ID == lost.ID {
			t.Errorf("redelivery = %+v of %+v", again, lost)
		}
		waitState(again.ID, webhook.StateDelivered)
		got := rc.waitType("/r", webhook.TypeRawUploaded, "gone.txt")
		if got.ce.ID != lost.EventID || got.ident != fmt.Sprint(again.ID) {
			t.Errorf("redelivered event %s (delivery %s), want event %s (delivery %d)", got.ce.ID, got.ident, lost.EventID, again.ID)
		}

		// A 4xx other than 408/429 is not retried.
		rc.answer(410)
		do(t, s, "PUT", "/raw/files/refused.txt", admin, "x", 201)
		refused := waitState(deliveries()[0].ID, webhook.StateFailed)
		if refused.Attempts != 1 || refused.LastStatus != 410 {
			t.Errorf("after a 410: %+v", refused)
		}

		// Metrics: outcomes and latency.
		_, metrics := s.Do(t, "GET", "/metrics", "", nil)
		for _, want := range []string{`arca_webhook_deliveries_total{outcome="delivered"} 2`, `arca_webhook_deliveries_total{outcome="failed"} 2`,
			`arca_webhook_attempts_total{outcome="http_error"}`, `arca_webhook_attempts_total{outcome="network_error"} 2`,
			`arca_webhook_delivery_latency_seconds_count 2`, `arca_webhook_attempt_duration_seconds_count`} {
			if !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
}

// each is apptest.Each with a configuration edit.
func each(t *testing.T, edit func(*config.Config), fn func(t *testing.T, s *apptest.Server)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, apptest.Start(t, "", edit)) })
	t.Run("postgres", func(t *testing.T) { fn(t, apptest.Start(t, metatest.PostgresURL(t), edit)) })
}
