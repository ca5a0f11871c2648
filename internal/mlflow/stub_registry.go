package mlflow

import "net/http"

// Placeholders until the registry lands (owner: registry helper). Delete this file when done.

func (h *Handler) createRegisteredModel(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
func (h *Handler) getRegisteredModel(w http.ResponseWriter, r *http.Request) error { return errNotYet }
func (h *Handler) renameRegisteredModel(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
func (h *Handler) updateRegisteredModel(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
func (h *Handler) deleteRegisteredModel(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
func (h *Handler) searchRegisteredModels(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
func (h *Handler) setRegisteredModelTag(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
func (h *Handler) deleteRegisteredModelTag(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
func (h *Handler) getLatestVersions(w http.ResponseWriter, r *http.Request) error { return errNotYet }
func (h *Handler) setAlias(w http.ResponseWriter, r *http.Request) error          { return errNotYet }
func (h *Handler) deleteAlias(w http.ResponseWriter, r *http.Request) error       { return errNotYet }
func (h *Handler) getModelVersionByAlias(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
func (h *Handler) createModelVersion(w http.ResponseWriter, r *http.Request) error  { return errNotYet }
func (h *Handler) getModelVersion(w http.ResponseWriter, r *http.Request) error     { return errNotYet }
func (h *Handler) updateModelVersion(w http.ResponseWriter, r *http.Request) error  { return errNotYet }
func (h *Handler) deleteModelVersion(w http.ResponseWriter, r *http.Request) error  { return errNotYet }
func (h *Handler) searchModelVersions(w http.ResponseWriter, r *http.Request) error { return errNotYet }
func (h *Handler) setModelVersionTag(w http.ResponseWriter, r *http.Request) error  { return errNotYet }
func (h *Handler) deleteModelVersionTag(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
func (h *Handler) transitionStage(w http.ResponseWriter, r *http.Request) error { return errNotYet }
func (h *Handler) getDownloadURI(w http.ResponseWriter, r *http.Request) error  { return errNotYet }
func (h *Handler) createExperimentPermission(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
func (h *Handler) getExperimentPermission(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
func (h *Handler) updateExperimentPermission(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
func (h *Handler) deleteExperimentPermission(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
func (h *Handler) createRegisteredModelPermission(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
func (h *Handler) getRegisteredModelPermission(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
func (h *Handler) updateRegisteredModelPermission(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
func (h *Handler) deleteRegisteredModelPermission(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
