package api

import (
	"net/http"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/httpx"
)

// S3 access keys of a user or robot: the user itself or an admin manages
// them. The secret is returned once, by the creation.

func (h *Handler) listS3Keys(w http.ResponseWriter, r *http.Request) error {
	if err := self(r); err != nil {
		return err
	}
	keys, err := h.auth.ListAccessKeys(r.Context(), r.PathValue("user"))
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, keys)
}

func (h *Handler) createS3Key(w http.ResponseWriter, r *http.Request) error {
	if err := self(r); err != nil {
		return err
	}
	var body struct {
		AccessKeyID     string `json:"access_key_id"`     // empty: generated
		SecretAccessKey string `json:"secret_access_key"` // empty: generated
		Description     string `json:"description"`
	}
	if r.ContentLength != 0 {
		if err := httpx.DecodeJSON(r, &body); err != nil {
			return err
		}
	}
	user := r.PathValue("user")
	k, secret, err := h.auth.IssueAccessKey(r.Context(), auth.From(r.Context()), user, body.AccessKeyID, body.SecretAccessKey, body.Description)
	if err != nil {
		return err
	}
	h.audit.Record(r.Context(), audit.Event{Action: "s3key.create", Subject: user, RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"access_key_id": k.ID}})
	return httpx.WriteJSON(w, http.StatusCreated, map[string]any{
		"access_key_id": k.ID, "secret_access_key": secret, "info": k,
	})
}

func (h *Handler) revokeS3Key(w http.ResponseWriter, r *http.Request) error {
	if err := self(r); err != nil {
		return err
	}
	if err := h.auth.CheckCredentials(auth.From(r.Context())); err != nil {
		return err
	}
	user, id := r.PathValue("user"), r.PathValue("key")
	if err := h.auth.RevokeAccessKey(r.Context(), user, id); err != nil {
		return err
	}
	h.audit.Record(r.Context(), audit.Event{Action: "s3key.revoke", Subject: user, RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"access_key_id": id}})
	w.WriteHeader(http.StatusNoContent)
	return nil
}
