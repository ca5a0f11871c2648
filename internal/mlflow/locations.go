package mlflow

import (
	"strconv"
	"strings"
)

// Artifact locations. Everything arca creates is stored through the
// artifact proxy: the client resolves "mlflow-artifacts:/<path>" against
// its tracking URI to /mlflow/api/2.0/mlflow-artifacts/artifacts/<path>,
// and <path> is the object key in the artifact bucket.
const artifactScheme = "mlflow-artifacts:"

// experimentArtifactLocation is where an experiment's artifacts go unless
// its creator names a location.
func experimentArtifactLocation(experimentID int64) string {
	return artifactScheme + "/" + strconv.FormatInt(experimentID, 10)
}

// runArtifactURI is a run's artifact root below its experiment's location.
func runArtifactURI(experimentLocation, runUUID string) string {
	return strings.TrimSuffix(experimentLocation, "/") + "/" + runUUID + "/artifacts"
}

// loggedModelArtifactLocation is a logged model's artifact root.
func loggedModelArtifactLocation(experimentLocation, modelID string) string {
	return strings.TrimSuffix(experimentLocation, "/") + "/models/" + modelID + "/artifacts"
}

// traceArtifactLocation is where a trace's span data goes.
func traceArtifactLocation(experimentLocation, traceID string) string {
	return strings.TrimSuffix(experimentLocation, "/") + "/traces/" + traceID + "/artifacts"
}

// proxiedKey returns the bucket key of an mlflow-artifacts: URI, and
// whether the URI is one arca's proxy serves.
func proxiedKey(uri string) (string, bool) {
	rest, ok := strings.CutPrefix(uri, artifactScheme)
	if !ok {
		return "", false
	}
	// mlflow-artifacts://host:port/path names a server explicitly.
	if h, ok := strings.CutPrefix(rest, "//"); ok {
		_, path, _ := strings.Cut(h, "/")
		rest = path
	}
	return strings.TrimPrefix(rest, "/"), true
}
