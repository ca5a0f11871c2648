package mlflow

import "net/http"

// Placeholders until artifacts and traces land (owner: artifacts helper). Delete this file when done.

func (h *Handler) listArtifacts(w http.ResponseWriter, r *http.Request) error  { return errNotYet }
func (h *Handler) getArtifact(w http.ResponseWriter, r *http.Request) error    { return errNotYet }
func (h *Handler) putArtifact(w http.ResponseWriter, r *http.Request) error    { return errNotYet }
func (h *Handler) deleteArtifact(w http.ResponseWriter, r *http.Request) error { return errNotYet }
func (h *Handler) createMultipartUpload(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
func (h *Handler) completeMultipartUpload(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
func (h *Handler) abortMultipartUpload(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
func (h *Handler) uploadPart(w http.ResponseWriter, r *http.Request) error       { return errNotYet }
func (h *Handler) listRunArtifacts(w http.ResponseWriter, r *http.Request) error { return errNotYet }
func (h *Handler) listLoggedModelArtifacts(w http.ResponseWriter, r *http.Request) error {
	return errNotYet
}
func (h *Handler) startTrace(w http.ResponseWriter, r *http.Request) error         { return errNotYet }
func (h *Handler) getTraceInfo(w http.ResponseWriter, r *http.Request) error       { return errNotYet }
func (h *Handler) searchTraces(w http.ResponseWriter, r *http.Request) error       { return errNotYet }
func (h *Handler) deleteTraces(w http.ResponseWriter, r *http.Request) error       { return errNotYet }
func (h *Handler) setTraceTag(w http.ResponseWriter, r *http.Request) error        { return errNotYet }
func (h *Handler) deleteTraceTag(w http.ResponseWriter, r *http.Request) error     { return errNotYet }
func (h *Handler) batchGetTraceInfos(w http.ResponseWriter, r *http.Request) error { return errNotYet }
func (h *Handler) linkTracesToRun(w http.ResponseWriter, r *http.Request) error    { return errNotYet }

// ObjectStore is the S3 bucket artifacts are stored in (implemented by
// internal/s3api). The artifacts helper defines its methods.
type ObjectStore interface{}
