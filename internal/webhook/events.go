package webhook

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/audit"
)

// The CloudEvents types arca sends. Every type is io.arca.<area>.<what>.<verb>.
const (
	TypeOCIManifestPushed  = "io.arca.oci.manifest.pushed"
	TypeOCIManifestDeleted = "io.arca.oci.manifest.deleted"
	TypeOCITagDeleted      = "io.arca.oci.tag.deleted"

	TypePyPIUploaded = "io.arca.pypi.file.uploaded"
	TypePyPIDeleted  = "io.arca.pypi.file.deleted"

	TypeNPMPublished   = "io.arca.npm.version.published"
	TypeNPMUnpublished = "io.arca.npm.version.unpublished"
	TypeNPMDistTags    = "io.arca.npm.dist_tags.changed"

	TypeMavenDeployed = "io.arca.maven.file.deployed"
	TypeMavenDeleted  = "io.arca.maven.file.deleted"

	TypeGoPublished = "io.arca.go.version.published"
	TypeGoDeleted   = "io.arca.go.version.deleted"

	TypeHelmUploaded = "io.arca.helm.chart.uploaded"
	TypeHelmDeleted  = "io.arca.helm.chart.deleted"

	TypeRawUploaded = "io.arca.raw.file.uploaded"
	TypeRawDeleted  = "io.arca.raw.file.deleted"

	TypeS3ObjectCreated = "io.arca.s3.object.created"
	TypeS3ObjectDeleted = "io.arca.s3.object.deleted"

	TypeRepositoryCreated = "io.arca.repository.created"
	TypeRepositoryDeleted = "io.arca.repository.deleted"

	TypeMLflowModelVersionCreated = "io.arca.mlflow.model_version.created"
	TypeMLflowAliasMoved          = "io.arca.mlflow.alias.moved"
	TypeMLflowAliasDeleted        = "io.arca.mlflow.alias.deleted"

	TypeQuotaExceeded       = "io.arca.quota.exceeded"
	TypeScanCompleted       = "io.arca.scan.completed"
	TypePolicyBlocked       = "io.arca.policy.blocked"
	TypeReplicationFinished = "io.arca.replication.finished"

	// TypePing is sent to one subscription by its ping endpoint only.
	TypePing = "io.arca.webhook.ping"
)

// The audit actions that other features record for the events they own;
// recording one (audit.Log.Record) is how they reach webhooks. Repository
// and Subject name what the event is about; Detail becomes the event's
// data.detail:
//
//   - scan.completed: Subject the artifact (image@digest, project/file);
//     Detail the severity counts, e.g. {"critical": 1, "high": 3, ...}.
//   - policy.blocked: Subject the artifact refused; Detail the policy and
//     the worst advisory. (A feature that would rather not audit every
//     refusal calls Service.Emit with TypePolicyBlocked instead.)
//   - quota.exceeded: recorded by every format's quota check (the OCI
//     registry's and internal/usage's Quota).
//   - replication.finished: Subject the replication rule; Detail its counts.
const (
	ActionScanCompleted       = "scan.completed"
	ActionPolicyBlocked       = "policy.blocked"
	ActionQuotaExceeded       = "quota.exceeded"
	ActionReplicationFinished = "replication.finished"
)

// actions maps audit actions to the event types they are sent as. An
// action not here sends nothing (logins, tokens, users, roles, GC, ...).
var actions = map[string]string{
	"oci.manifest.push":           TypeOCIManifestPushed,
	"oci.manifest.delete":         TypeOCIManifestDeleted,
	"oci.tag.delete":              TypeOCITagDeleted,
	"pypi.upload":                 TypePyPIUploaded,
	"pypi.replace":                TypePyPIUploaded,
	"pypi.delete":                 TypePyPIDeleted,
	"npm.publish":                 TypeNPMPublished,
	"npm.unpublish":               TypeNPMUnpublished,
	"npm.dist-tags":               TypeNPMDistTags,
	"maven.deploy":                TypeMavenDeployed,
	"maven.redeploy":              TypeMavenDeployed,
	"maven.delete":                TypeMavenDeleted,
	"go.publish":                  TypeGoPublished,
	"go.delete":                   TypeGoDeleted,
	"helm.upload":                 TypeHelmUploaded,
	"helm.replace":                TypeHelmUploaded,
	"helm.provenance":             TypeHelmUploaded,
	"helm.delete":                 TypeHelmDeleted,
	"raw.upload":                  TypeRawUploaded,
	"raw.replace":                 TypeRawUploaded,
	"raw.delete":                  TypeRawDeleted,
	"s3.put":                      TypeS3ObjectCreated,
	"s3.replace":                  TypeS3ObjectCreated,
	"s3.copy":                     TypeS3ObjectCreated,
	"s3.delete":                   TypeS3ObjectDeleted,
	"repository.create":           TypeRepositoryCreated,
	"repository.delete":           TypeRepositoryDeleted,
	"mlflow.model_version.create": TypeMLflowModelVersionCreated,
	"mlflow.alias.set":            TypeMLflowAliasMoved,
	"mlflow.alias.delete":         TypeMLflowAliasDeleted,
	ActionQuotaExceeded:           TypeQuotaExceeded,
	ActionScanCompleted:           TypeScanCompleted,
	ActionPolicyBlocked:           TypePolicyBlocked,
	ActionReplicationFinished:     TypeReplicationFinished,
}

// Types lists every event type a subscription may filter on, sorted by area.
func Types() []string {
	return []string{
		TypeOCIManifestPushed, TypeOCIManifestDeleted, TypeOCITagDeleted,
		TypePyPIUploaded, TypePyPIDeleted,
		TypeNPMPublished, TypeNPMUnpublished, TypeNPMDistTags,
		TypeMavenDeployed, TypeMavenDeleted,
		TypeGoPublished, TypeGoDeleted,
		TypeHelmUploaded, TypeHelmDeleted,
		TypeRawUploaded, TypeRawDeleted,
		TypeS3ObjectCreated, TypeS3ObjectDeleted,
		TypeRepositoryCreated, TypeRepositoryDeleted,
		TypeMLflowModelVersionCreated, TypeMLflowAliasMoved, TypeMLflowAliasDeleted,
		TypeQuotaExceeded, TypeScanCompleted, TypePolicyBlocked, TypeReplicationFinished,
		TypePing,
	}
}

// TypeOf returns the event type an audit action is sent as, and whether
// it is sent at all.
func TypeOf(action string) (string, bool) {
	t, ok := actions[action]
	return t, ok
}

// Event is something that happened, before it is addressed to
// subscriptions.
type Event struct {
	Type string
	// Repository is the repository's name, "" for events of the whole
	// server. Subscriptions of that repository and global ones receive it.
	Repository string
	// Subject is what the event is about within the repository: an
	// image@digest, a project/file, a path, a model/version.
	Subject string
	Actor   string
	// Action is the audit action the event came from, when it came from one.
	Action  string
	AuditID int64
	At      time.Time
	Detail  map[string]any
}

// fromAudit is the event an audited action sends, if any.
func fromAudit(e audit.Event) (Event, bool) {
	t, ok := actions[e.Action]
	if !ok {
		return Event{}, false
	}
	return Event{Type: t, Repository: e.Repository, Subject: e.Subject, Actor: e.Actor, Action: e.Action,
		AuditID: e.ID, At: time.UnixMilli(e.At), Detail: e.Detail}, true
}

// CloudEvent is a CloudEvents 1.0 event in the structured JSON format
// (https://github.com/cloudevents/spec, json-format.md). It is written
// with encoding/json rather than the CloudEvents SDK: the format is eight
// attributes, and the SDK would bring a JSON library, a logger and its
// transports for them.
type CloudEvent struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Subject         string    `json:"subject,omitempty"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	Data            EventData `json:"data"`
}

// EventData is the data of every arca event.
type EventData struct {
	Repository string         `json:"repository,omitempty"`
	Subject    string         `json:"subject,omitempty"`
	Actor      string         `json:"actor,omitempty"`
	Action     string         `json:"action,omitempty"`
	AuditID    int64          `json:"audit_id,omitempty"`
	Detail     map[string]any `json:"detail,omitempty"`
}

// cloudEvent turns e into the CloudEvent every subscription gets. source
// is the server's public URL ("" when none is configured) joined with the
// repository's API path, a URI-reference as the spec asks.
func cloudEvent(e Event, publicURL string) CloudEvent {
	var id [16]byte
	rand.Read(id[:])
	source := strings.TrimRight(publicURL, "/") + "/api/v1"
	if e.Repository != "" {
		source += "/repositories/" + url.PathEscape(e.Repository)
	}
	at := e.At
	if at.IsZero() {
		at = time.Now()
	}
	return CloudEvent{SpecVersion: "1.0", ID: hex.EncodeToString(id[:]), Source: source, Type: e.Type,
		Subject: e.Subject, Time: at.UTC(), DataContentType: "application/json",
		Data: EventData{Repository: e.Repository, Subject: e.Subject, Actor: e.Actor, Action: e.Action, AuditID: e.AuditID, Detail: e.Detail}}
}

// slackText is the one line a Slack-compatible subscription gets.
func slackText(ce CloudEvent) string {
	what := strings.TrimPrefix(ce.Type, "io.arca.")
	var b strings.Builder
	fmt.Fprintf(&b, "[arca] %s", what)
	if ce.Data.Repository != "" {
		fmt.Fprintf(&b, " in %s", ce.Data.Repository)
	}
	if ce.Subject != "" {
		fmt.Fprintf(&b, ": %s", ce.Subject)
	}
	if ce.Data.Actor != "" {
		fmt.Fprintf(&b, " by %s", ce.Data.Actor)
	}
	if len(ce.Data.Detail) > 0 {
		if d, err := json.Marshal(ce.Data.Detail); err == nil && len(d) <= 500 {
			fmt.Fprintf(&b, " %s", d)
		}
	}
	return b.String()
}

// matches reports whether a subscription's filter admits type t: an empty
// filter admits every type, "io.arca.oci.*" every type with that prefix.
func matches(filter []string, t string) bool {
	if len(filter) == 0 {
		return t != TypePing
	}
	for _, f := range filter {
		if f == t || (strings.HasSuffix(f, "*") && strings.HasPrefix(t, strings.TrimSuffix(f, "*"))) {
			return true
		}
	}
	return false
}

// checkFilter refuses filters that could never match.
func checkFilter(filter []string) error {
	known := Types()
	for _, f := range filter {
		if strings.HasSuffix(f, "*") {
			if !strings.HasPrefix(f, "io.arca.") && f != "*" {
				return fmt.Errorf("event filter %q: a prefix must start with io.arca.", f)
			}
			continue
		}
		found := false
		for _, k := range known {
			found = found || k == f
		}
		if !found {
			return fmt.Errorf("unknown event type %q (GET /api/v1/webhooks/events lists them)", f)
		}
	}
	return nil
}
