package ui

import "net/http"

// experiments and models are placeholders that the MLflow pages replace.
func (h *Handler) experiments(w http.ResponseWriter, r *http.Request) error {
	return h.page(w, r, "experiments", "Experiments", nil)
}

func (h *Handler) models(w http.ResponseWriter, r *http.Request) error {
	return h.page(w, r, "models", "Models", nil)
}
