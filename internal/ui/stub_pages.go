package ui

import (
	"net/http"

	"github.com/arcaproject/arca/internal/errs"
)

func (h *Handler) todo(w http.ResponseWriter, r *http.Request) error {
	return errs.E(errs.NotFound, "not built yet")
}

func (h *Handler) repositories(w http.ResponseWriter, r *http.Request) error     { return h.todo(w, r) }
func (h *Handler) repository(w http.ResponseWriter, r *http.Request) error       { return h.todo(w, r) }
func (h *Handler) image(w http.ResponseWriter, r *http.Request) error            { return h.todo(w, r) }
func (h *Handler) manifest(w http.ResponseWriter, r *http.Request) error         { return h.todo(w, r) }
func (h *Handler) pkg(w http.ResponseWriter, r *http.Request) error              { return h.todo(w, r) }
func (h *Handler) download(w http.ResponseWriter, r *http.Request) error         { return h.todo(w, r) }
func (h *Handler) adminHome(w http.ResponseWriter, r *http.Request) error        { return h.todo(w, r) }
func (h *Handler) users(w http.ResponseWriter, r *http.Request) error            { return h.todo(w, r) }
func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) error       { return h.todo(w, r) }
func (h *Handler) updateUser(w http.ResponseWriter, r *http.Request) error       { return h.todo(w, r) }
func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request) error       { return h.todo(w, r) }
func (h *Handler) newRepository(w http.ResponseWriter, r *http.Request) error    { return h.todo(w, r) }
func (h *Handler) createRepository(w http.ResponseWriter, r *http.Request) error { return h.todo(w, r) }
func (h *Handler) editRepository(w http.ResponseWriter, r *http.Request) error   { return h.todo(w, r) }
func (h *Handler) updateRepository(w http.ResponseWriter, r *http.Request) error { return h.todo(w, r) }
func (h *Handler) grantRole(w http.ResponseWriter, r *http.Request) error        { return h.todo(w, r) }
func (h *Handler) deleteRepository(w http.ResponseWriter, r *http.Request) error { return h.todo(w, r) }
func (h *Handler) gcPage(w http.ResponseWriter, r *http.Request) error           { return h.todo(w, r) }
func (h *Handler) runGC(w http.ResponseWriter, r *http.Request) error            { return h.todo(w, r) }
func (h *Handler) audit(w http.ResponseWriter, r *http.Request) error            { return h.todo(w, r) }
