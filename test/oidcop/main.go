// Command oidcop is the OpenID provider arca's SSO end-to-end tests sign in
// with: the example provider of github.com/zitadel/oidc (its storage, login
// and device pages, unchanged), with two additions the example lacks — a
// "groups" claim read from a file on every request (so a test can move a
// user out of a group), and the clients arca needs (a web client for the
// browser sign-in, a device client for `arca login`).
//
// It is a module of its own, so that arca's go.mod does not carry a test
// provider's dependencies; scripts/test.sh builds it into .cache/bin.
//
// Environment: PORT, USERS_FILE (the example's JSON user file),
// GROUPS_FILE ({"username": ["group", ...]}), REDIRECT_URI (the web
// client's redirect URIs, comma-separated), POST_LOGOUT_URI, CLIENT_SECRET.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// groupStorage adds the groups claim to the example storage's userinfo
// (the userinfo endpoint and ID tokens that carry userinfo claims).
type groupStorage struct {
	*storage.Storage
	users      storage.UserStore
	groupsFile string
}

func (s *groupStorage) addGroups(info *oidc.UserInfo, subject string) error {
	u := s.users.GetUserByID(subject)
	if u == nil {
		return nil
	}
	b, err := os.ReadFile(s.groupsFile)
	if err != nil {
		return err
	}
	var groups map[string][]string
	if err := json.Unmarshal(b, &groups); err != nil {
		return err
	}
	info.AppendClaims("groups", append([]string{}, groups[u.Username]...))
	return nil
}

func (s *groupStorage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, token op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, token, scopes); err != nil {
		return err
	}
	return s.addGroups(info, token.GetSubject())
}

func (s *groupStorage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	return s.addGroups(info, subject)
}

func main() {
	port := os.Getenv("PORT")
	issuer := fmt.Sprintf("http://localhost:%s/", port)
	secret := os.Getenv("CLIENT_SECRET")
	web := storage.WebClient("arca", secret, strings.Split(os.Getenv("REDIRECT_URI"), ",")...)
	storage.RegisterClients(web, storage.DeviceClient("arca-device", secret))
	users, err := storage.StoreFromFile(os.Getenv("USERS_FILE"))
	if err != nil {
		slog.Error("users file", "err", err)
		os.Exit(1)
	}
	st := &groupStorage{Storage: storage.NewStorage(users), users: users, groupsFile: os.Getenv("GROUPS_FILE")}
	router := exampleop.SetupServer(issuer, st, slog.New(slog.NewTextHandler(os.Stderr, nil)), false)
	srv := &http.Server{Addr: "127.0.0.1:" + port, Handler: router}
	slog.Info("listening", "issuer", issuer)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		slog.Error("serve", "err", err)
		os.Exit(1)
	}
}
