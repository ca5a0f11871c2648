package mlflow

import (
	"net/http"

	"github.com/arcaproject/arca/internal/errs"
)

// CompatibleVersion is the MLflow server version arca answers /version
// with: the client adapts what it sends (trace APIs, logged models) to it.
const CompatibleVersion = "3.17.2"

func (h *Handler) version(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := w.Write([]byte(CompatibleVersion))
	return err
}

func (h *Handler) health(w http.ResponseWriter, r *http.Request) error {
	if err := h.db.PingContext(r.Context()); err != nil {
		return errs.Wrap(err, errs.Unavailable, "database unavailable")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, err := w.Write([]byte("OK"))
	return err
}

// serverInfo answers the probe newer clients send to learn the server's
// capabilities: arca keeps workspaces off and stores traces in the SQL
// tracking store.
func (h *Handler) serverInfo(w http.ResponseWriter, r *http.Request) error {
	return reply(w, map[string]any{"store_type": "SqlStore", "workspaces_enabled": false})
}

func errEndpointNotFound(r *http.Request) error {
	return errs.E(errs.NotFound, "no MLflow endpoint %s %s", r.Method, r.URL.Path).WithCode(codeEndpointNotFound)
}
