package mlflow

import "net/http"

// Placeholders until tracking lands (owner: tracking helper). Delete this file when done.

func (h *Handler) createExperiment(w http.ResponseWriter, r *http.Request) error    { return errNotYet }
func (h *Handler) getExperiment(w http.ResponseWriter, r *http.Request) error       { return errNotYet }
func (h *Handler) getExperimentByName(w http.ResponseWriter, r *http.Request) error { return errNotYet }
func (h *Handler) searchExperiments(w http.ResponseWriter, r *http.Request) error   { return errNotYet }
func (h *Handler) updateExperiment(w http.ResponseWriter, r *http.Request) error    { return errNotYet }
func (h *Handler) deleteExperiment(w http.ResponseWriter, r *http.Request) error    { return errNotYet }
func (h *Handler) restoreExperiment(w http.ResponseWriter, r *http.Request) error   { return errNotYet }
func (h *Handler) setExperimentTag(w http.ResponseWriter, r *http.Request) error    { return errNotYet }
func (h *Handler) deleteExperimentTag(w http.ResponseWriter, r *http.Request) error { return errNotYet }
func (h *Handler) createRun(w http.ResponseWriter, r *http.Request) error           { return errNotYet }
func (h *Handler) getRun(w http.ResponseWriter, r *http.Request) error              { return errNotYet }
func (h *Handler) updateRun(w http.ResponseWriter, r *http.Request) error           { return errNotYet }
func (h *Handler) deleteRun(w http.ResponseWriter, r *http.Request) error           { return errNotYet }
func (h *Handler) restoreRun(w http.ResponseWriter, r *http.Request) error          { return errNotYet }
func (h *Handler) searchRuns(w http.ResponseWriter, r *http.Request) error          { return errNotYet }
func (h *Handler) logMetric(w http.ResponseWriter, r *http.Request) error           { return errNotYet }
func (h *Handler) logParam(w http.ResponseWriter, r *http.Request) error            { return errNotYet }
func (h *Handler) setTag(w http.ResponseWriter, r *http.Request) error              { return errNotYet }
func (h *Handler) deleteTag(w http.ResponseWriter, r *http.Request) error           { return errNotYet }
func (h *Handler) logBatch(w http.ResponseWriter, r *http.Request) error            { return errNotYet }
func (h *Handler) logInputs(w http.ResponseWriter, r *http.Request) error           { return errNotYet }
func (h *Handler) logOutputs(w http.ResponseWriter, r *http.Request) error          { return errNotYet }
func (h *Handler) logModel(w http.ResponseWriter, r *http.Request) error            { return errNotYet }
func (h *Handler) getMetricHistory(w http.ResponseWriter, r *http.Request) error    { return errNotYet }
func (h *Handler) getMetricHistoryBulkInterval(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
func (h *Handler) createLoggedModel(w http.ResponseWriter, r *http.Request) error   { return errNotYet }
func (h *Handler) getLoggedModel(w http.ResponseWriter, r *http.Request) error      { return errNotYet }
func (h *Handler) finalizeLoggedModel(w http.ResponseWriter, r *http.Request) error { return errNotYet }
func (h *Handler) deleteLoggedModel(w http.ResponseWriter, r *http.Request) error   { return errNotYet }
func (h *Handler) setLoggedModelTags(w http.ResponseWriter, r *http.Request) error  { return errNotYet }
func (h *Handler) deleteLoggedModelTag(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
func (h *Handler) logLoggedModelParams(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
func (h *Handler) searchLoggedModels(w http.ResponseWriter, r *http.Request) error { return errNotYet }
