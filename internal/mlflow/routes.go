package mlflow

import (
	"net/http"
	"strings"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
)

// Routes mounts the MLflow surface below /mlflow, the tracking URI's path.
// The table follows MLflow's own (mlflow/server/handlers.py); a path the
// client calls with GET and POST is listed once per method. As MLflow's
// server does, every /api/... route is served under /ajax-api/... too (the
// paths MLflow's web UI calls). Every route but the open ones (openRoute)
// refuses an anonymous caller of a private space before it reads the
// request, so authentication comes before validation.
func (h *Handler) Routes(mux *http.ServeMux) {
	for _, rt := range h.routes() {
		fn := rt.fn
		if !openRoute(rt.path) {
			fn = h.authenticated(fn)
		}
		mux.Handle(rt.method+" /mlflow"+rt.path, h.handle(fn))
		if rest, ok := strings.CutPrefix(rt.path, "/api/"); ok {
			mux.Handle(rt.method+" /mlflow/ajax-api/"+rest, h.handle(fn))
		}
	}
	for _, rt := range h.otlpRoutes() {
		mux.Handle(rt.method+" /mlflow"+rt.path, h.otlpSurface.Handle(h.authenticated(rt.fn)))
	}
	// The tracking URI itself is where the client's "View run at" links
	// point (TRACKING_URI/#/experiments/1/runs/ID): the web UI's MLflow
	// pages. Browsers keep the #fragment across the redirect, and the UI
	// maps MLflow's fragment routes onto its own pages.
	mux.HandleFunc("GET /mlflow", toUI)
	mux.HandleFunc("GET /mlflow/{$}", toUI)
	mux.Handle("/mlflow/", h.handle(h.authenticated(h.endpointNotFound)))
}

// openRoute reports whether a route answers anonymous callers of a private
// space: the probes MLflow's auth app leaves open (health, version,
// server-info), and part uploads, which carry their own signed URL.
func openRoute(path string) bool {
	switch path {
	case "/version", "/health", v3 + "/server-info", ar + "/mpu/part/{upload_id}/{part_number}":
		return true
	}
	return false
}

// authenticated answers 401 UNAUTHENTICATED to an anonymous caller unless
// the MLflow space is public (then the handler decides, as for everyone).
func (h *Handler) authenticated(fn func(w http.ResponseWriter, r *http.Request) error) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if auth.From(r.Context()).Anonymous() {
			space, err := h.spaceRepo(r.Context())
			if err != nil {
				return err
			}
			if !space.Public() {
				return errs.E(errs.Unauthenticated, "authentication required").WithCode(codeUnauthenticated)
			}
		}
		return fn(w, r)
	}
}

// uiExperiments is the web UI's list of MLflow experiments.
const uiExperiments = "/ui/experiments"

func toUI(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, uiExperiments, http.StatusFound)
}

type route struct {
	method string
	path   string
	fn     func(w http.ResponseWriter, r *http.Request) error
}

const (
	v2 = "/api/2.0/mlflow"
	v3 = "/api/3.0/mlflow"
	ar = "/api/2.0/mlflow-artifacts"
)

func (h *Handler) routes() []route {
	return []route{
		// server
		{"GET", "/version", h.version},
		{"GET", "/health", h.health},
		{"GET", v3 + "/server-info", h.serverInfo},

		// experiments (experiments.go)
		{"POST", v2 + "/experiments/create", h.createExperiment},
		{"GET", v2 + "/experiments/get", h.getExperiment},
		{"GET", v2 + "/experiments/get-by-name", h.getExperimentByName},
		{"GET", v2 + "/experiments/search", h.searchExperiments},
		{"POST", v2 + "/experiments/search", h.searchExperiments},
		{"POST", v2 + "/experiments/update", h.updateExperiment},
		{"POST", v2 + "/experiments/delete", h.deleteExperiment},
		{"POST", v2 + "/experiments/restore", h.restoreExperiment},
		{"POST", v2 + "/experiments/set-experiment-tag", h.setExperimentTag},
		{"POST", v2 + "/experiments/delete-experiment-tag", h.deleteExperimentTag},

		// runs (runs.go) and what they log (logging.go)
		{"POST", v2 + "/runs/create", h.createRun},
		{"GET", v2 + "/runs/get", h.getRun},
		{"POST", v2 + "/runs/update", h.updateRun},
		{"POST", v2 + "/runs/delete", h.deleteRun},
		{"POST", v2 + "/runs/restore", h.restoreRun},
		{"POST", v2 + "/runs/search", h.searchRuns},
		{"POST", v2 + "/runs/log-metric", h.logMetric},
		{"POST", v2 + "/runs/log-parameter", h.logParam},
		{"POST", v2 + "/runs/set-tag", h.setTag},
		{"POST", v2 + "/runs/delete-tag", h.deleteTag},
		{"POST", v2 + "/runs/log-batch", h.logBatch},
		{"POST", v2 + "/runs/log-inputs", h.logInputs},
		{"POST", v2 + "/runs/outputs", h.logOutputs},
		{"POST", v2 + "/runs/log-model", h.logModel},
		{"GET", v2 + "/metrics/get-history", h.getMetricHistory},
		{"GET", v2 + "/metrics/get-history-bulk-interval", h.getMetricHistoryBulkInterval},

		// MLflow 3 logged models (loggedmodels.go)
		{"POST", v2 + "/logged-models", h.createLoggedModel},
		{"GET", v2 + "/logged-models/{model_id}", h.getLoggedModel},
		{"PATCH", v2 + "/logged-models/{model_id}", h.finalizeLoggedModel},
		{"DELETE", v2 + "/logged-models/{model_id}", h.deleteLoggedModel},
		{"PATCH", v2 + "/logged-models/{model_id}/tags", h.setLoggedModelTags},
		{"DELETE", v2 + "/logged-models/{model_id}/tags/{tag_key}", h.deleteLoggedModelTag},
		{"POST", v2 + "/logged-models/{model_id}/params", h.logLoggedModelParams},
		{"POST", v2 + "/logged-models/search", h.searchLoggedModels},
		{"GET", v2 + "/logged-models/{model_id}/artifacts/directories", h.listLoggedModelArtifacts},

		// model registry (registry.go, versions.go)
		{"POST", v2 + "/registered-models/create", h.createRegisteredModel},
		{"GET", v2 + "/registered-models/get", h.getRegisteredModel},
		{"POST", v2 + "/registered-models/rename", h.renameRegisteredModel},
		{"PATCH", v2 + "/registered-models/update", h.updateRegisteredModel},
		{"DELETE", v2 + "/registered-models/delete", h.deleteRegisteredModel},
		{"GET", v2 + "/registered-models/search", h.searchRegisteredModels},
		{"POST", v2 + "/registered-models/set-tag", h.setRegisteredModelTag},
		{"DELETE", v2 + "/registered-models/delete-tag", h.deleteRegisteredModelTag},
		{"GET", v2 + "/registered-models/get-latest-versions", h.getLatestVersions},
		{"POST", v2 + "/registered-models/get-latest-versions", h.getLatestVersions},
		{"POST", v2 + "/registered-models/alias", h.setAlias},
		{"DELETE", v2 + "/registered-models/alias", h.deleteAlias},
		{"GET", v2 + "/registered-models/alias", h.getModelVersionByAlias},
		{"POST", v2 + "/model-versions/create", h.createModelVersion},
		{"GET", v2 + "/model-versions/get", h.getModelVersion},
		{"PATCH", v2 + "/model-versions/update", h.updateModelVersion},
		{"DELETE", v2 + "/model-versions/delete", h.deleteModelVersion},
		{"GET", v2 + "/model-versions/search", h.searchModelVersions},
		{"POST", v2 + "/model-versions/set-tag", h.setModelVersionTag},
		{"DELETE", v2 + "/model-versions/delete-tag", h.deleteModelVersionTag},
		{"POST", v2 + "/model-versions/transition-stage", h.transitionStage},
		{"GET", v2 + "/model-versions/get-download-uri", h.getDownloadURI},

		// permissions, as MLflow's auth app serves them (permissions.go)
		{"POST", v2 + "/experiments/permissions/create", h.createExperimentPermission},
		{"GET", v2 + "/experiments/permissions/get", h.getExperimentPermission},
		{"PATCH", v2 + "/experiments/permissions/update", h.updateExperimentPermission},
		{"DELETE", v2 + "/experiments/permissions/delete", h.deleteExperimentPermission},
		{"POST", v2 + "/registered-models/permissions/create", h.createRegisteredModelPermission},
		{"GET", v2 + "/registered-models/permissions/get", h.getRegisteredModelPermission},
		{"PATCH", v2 + "/registered-models/permissions/update", h.updateRegisteredModelPermission},
		{"DELETE", v2 + "/registered-models/permissions/delete", h.deleteRegisteredModelPermission},
		{"POST", v3 + "/users/permissions/grant", h.grantUserPermission},
		{"POST", v3 + "/users/permissions/revoke", h.revokeUserPermission},
		{"GET", v3 + "/users/permissions/get", h.getUserPermission},

		// artifact proxy (artifacts.go)
		{"GET", ar + "/artifacts", h.listArtifacts},
		{"GET", ar + "/artifacts/{path...}", h.getArtifact},
		{"PUT", ar + "/artifacts/{path...}", h.putArtifact},
		{"DELETE", ar + "/artifacts/{path...}", h.deleteArtifact},
		{"POST", ar + "/mpu/create/{path...}", h.createMultipartUpload},
		{"POST", ar + "/mpu/complete/{path...}", h.completeMultipartUpload},
		{"POST", ar + "/mpu/abort/{path...}", h.abortMultipartUpload},
		{"PUT", ar + "/mpu/part/{upload_id}/{part_number}", h.uploadPart},
		{"GET", v2 + "/artifacts/list", h.listRunArtifacts},

		// traces (traces.go)
		{"POST", v3 + "/traces", h.startTrace},
		{"GET", v3 + "/traces/{trace_id}", h.getTraceInfo},
		{"POST", v3 + "/traces/search", h.searchTraces},
		{"POST", v3 + "/traces/delete-traces", h.deleteTraces},
		{"POST", v2 + "/traces/delete-traces", h.deleteTraces},
		{"PATCH", v3 + "/traces/{trace_id}/tags", h.setTraceTag},
		{"PATCH", v2 + "/traces/{trace_id}/tags", h.setTraceTag},
		{"DELETE", v3 + "/traces/{trace_id}/tags", h.deleteTraceTag},
		{"DELETE", v2 + "/traces/{trace_id}/tags", h.deleteTraceTag},
		{"POST", v3 + "/traces/batchGetInfos", h.batchGetTraceInfos},
		{"GET", v3 + "/traces/get", h.getTrace},
		{"GET", v3 + "/traces/batchGet", h.batchGetTraces},
		{"POST", v2 + "/traces/link-to-run", h.linkTracesToRun},
		{"POST", v2 + "/traces/link-prompts", h.linkPromptsToTrace},
		{"POST", v3 + "/traces/link-prompts", h.linkPromptsToTrace},

		// trace assessments (assessments.go)
		{"POST", v3 + "/traces/{trace_id}/assessments", h.createAssessment},
		{"GET", v3 + "/traces/{trace_id}/assessments/{assessment_id}", h.getAssessment},
		{"PATCH", v3 + "/traces/{trace_id}/assessments/{assessment_id}", h.updateAssessment},
		{"DELETE", v3 + "/traces/{trace_id}/assessments/{assessment_id}", h.deleteAssessment},

		// evaluation datasets (datasets.go, dataset_records.go)
		{"POST", v3 + "/datasets/create", h.createDataset},
		{"POST", v3 + "/datasets/search", h.searchDatasets},
		{"GET", v3 + "/datasets/{dataset_id}", h.getDataset},
		{"DELETE", v3 + "/datasets/{dataset_id}", h.deleteDataset},
		{"PATCH", v3 + "/datasets/{dataset_id}/tags", h.setDatasetTagsHandler},
		{"DELETE", v3 + "/datasets/{dataset_id}/tags/{key}", h.deleteDatasetTag},
		{"POST", v3 + "/datasets/{dataset_id}/records", h.upsertDatasetRecords},
		{"GET", v3 + "/datasets/{dataset_id}/records", h.getDatasetRecords},
		{"DELETE", v3 + "/datasets/{dataset_id}/records", h.deleteDatasetRecords},
		{"GET", v3 + "/datasets/{dataset_id}/experiment-ids", h.getDatasetExperimentIDs},
		{"POST", v3 + "/datasets/{dataset_id}/add-experiments", h.addDatasetToExperiments},
		{"POST", v3 + "/datasets/{dataset_id}/remove-experiments", h.removeDatasetFromExperiments},
	}
}

// otlpRoutes are served by the OTLP surface: errors are google.rpc.Status
// messages in the request's encoding, as OTLP/HTTP exporters expect.
func (h *Handler) otlpRoutes() []route {
	return []route{
		{"POST", "/v1/traces", h.exportTraces}, // OTLP/HTTP trace export (otlp_ingest.go)
	}
}

// endpointNotFound answers paths below /mlflow that are not in the table.
func (h *Handler) endpointNotFound(w http.ResponseWriter, r *http.Request) error {
	return errEndpointNotFound(r)
}
