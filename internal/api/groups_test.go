package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
)

func do(t *testing.T, s *apptest.Server, method, path, cred, body string, want int) string {
	t.Helper()
	resp, got := s.Do(t, method, path, cred, strings.NewReader(body))
	if resp.StatusCode != want {
		t.Fatalf("%s %s %s = %d %s, want %d", method, path, body, resp.StatusCode, got, want)
	}
	return got
}

// apiError checks the API's error format and returns the message.
func apiError(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	decode(t, body, &e)
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not the API's error format: %s", body)
	}
	return e.Error.Message
}

// TestGroupMembersNeedAdmin is issue 22 item 3: the admin of a group only
// cannot make the group serve a repository they do not administer.
func TestGroupMembersNeedAdmin(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		do(t, s, "POST", "/api/v1/repositories", admin, `{"name":"secret-oci","format":"oci"}`, 201)
		do(t, s, "POST", "/api/v1/repositories", admin, `{"name":"mine-oci","format":"oci"}`, 201)
		do(t, s, "POST", "/api/v1/repositories", admin, `{"name":"team-all","format":"oci","kind":"group","settings":{"members":["library"]}}`, 201)
		grants := map[string][]struct {
			repo string
			role auth.Role
		}{
			"carol": {{"team-all", auth.Admin}, {"mine-oci", auth.Admin}},
			"mona":  {{"team-all", auth.Admin}, {"secret-oci", auth.Maintainer}},
			"rita":  {{"team-all", auth.Reader}, {"secret-oci", auth.Admin}},
			"dave":  {{"team-all", auth.Developer}, {"secret-oci", auth.Admin}},
		}
		for user, gs := range grants {
			if _, err := s.Auth.CreateUser(ctx, user, user+"-password", "", auth.NoRole); err != nil {
				t.Fatal(err)
			}
			for _, g := range gs {
				rp, err := s.Repos.Get(ctx, g.repo)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Auth.Grant(ctx, user, rp.ID, g.role); err != nil {
					t.Fatal(err)
				}
			}
		}
		// The blob the attack was after.
		layer := "secret layer"
		d := "sha256:" + hexSHA256(layer)
		do(t, s, "POST", "/v2/secret-oci/app/blobs/uploads/?digest="+d, admin, layer, 201)

		attack := `{"visibility":"public","settings":{"members":["secret-oci"]}}`
		for _, c := range []struct{ who, cred string }{{"group-admin", "carol:carol-password"}, {"group-admin and member maintainer", "mona:mona-password"}} {
			msg := apiError(t, do(t, s, "PATCH", "/api/v1/repositories/team-all", c.cred, attack, 403))
			if !strings.Contains(msg, "secret-oci") {
				t.Errorf("%s: refusal does not name the member: %s", c.who, msg)
			}
			do(t, s, "PATCH", "/api/v1/repositories/team-all", c.cred, `{"settings":{"members":["library","secret-oci"]}}`, 403)
		}
		// Only repository admins change a group at all, whatever their role
		// on the member.
		do(t, s, "PATCH", "/api/v1/repositories/team-all", "", attack, 401)
		do(t, s, "PATCH", "/api/v1/repositories/team-all", "rita:rita-password", attack, 403)
		do(t, s, "PATCH", "/api/v1/repositories/team-all", "dave:dave-password", attack, 403)
		// Nothing changed: the blob is not served through the group.
		if body := do(t, s, "GET", "/api/v1/repositories/team-all", admin, "", 200); strings.Contains(body, "secret-oci") || strings.Contains(body, "public") {
			t.Fatalf("refused patches changed the group: %s", body)
		}
		do(t, s, "GET", "/v2/team-all/app/blobs/"+d, "", "", 401)

		// A group admin may add repositories they administer, keep the
		// members they did not add, and remove any.
		do(t, s, "PATCH", "/api/v1/repositories/team-all", "carol:carol-password", `{"visibility":"public","settings":{"members":["library","mine-oci"]}}`, 200)
		do(t, s, "PATCH", "/api/v1/repositories/team-all", "carol:carol-password", `{"description":"ours","settings":{"members":["mine-oci"]}}`, 200)
		// A global admin may add anything; readers still need a role on
		// the member to read through the group.
		do(t, s, "PATCH", "/api/v1/repositories/team-all", admin, `{"settings":{"members":["secret-oci","mine-oci"]}}`, 200)
		do(t, s, "GET", "/v2/team-all/app/blobs/"+d, "", "", 404)
		do(t, s, "GET", "/v2/team-all/app/blobs/"+d, "carol:carol-password", "", 404)
		if body := do(t, s, "GET", "/v2/team-all/app/blobs/"+d, admin, "", 200); body != layer {
			t.Fatalf("admin read through the group = %q", body)
		}
		// carol keeps a group she cannot fully read, and may still edit
		// what is not membership.
		do(t, s, "PATCH", "/api/v1/repositories/team-all", "carol:carol-password", `{"settings":{"members":["secret-oci","mine-oci"]},"description":"x"}`, 200)
	})
}

// TestGroupMembersValidated is issue 23 item 3: members must exist, have
// the group's format, and not lead back to the group.
func TestGroupMembersValidated(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		for _, c := range []struct{ body, want string }{
			{`{"name":"g","format":"pypi","kind":"group","settings":{"members":["npm-hosted"]}}`, `"npm-hosted" of pypi group "g" is a npm repository`},
			{`{"name":"g","format":"pypi","kind":"group","settings":{"members":["pypi-hosted","nope"]}}`, `"nope" of group "g" does not exist`},
			{`{"name":"g","format":"pypi","kind":"group","settings":{"members":["g"]}}`, `cannot be a member of itself`},
			{`{"name":"g","format":"pypi","kind":"group","settings":{"members":["pypi-hosted","pypi-hosted"]}}`, `listed twice`},
			{`{"name":"g","format":"npm","kind":"group","settings":{"members":["npm-hosted","pypi-hosted"]}}`, `is a pypi repository`},
			{`{"name":"g","format":"oci","kind":"group","settings":{"members":["files"]}}`, `is a raw repository`},
		} {
			if msg := apiError(t, do(t, s, "POST", "/api/v1/repositories", admin, c.body, 400)); !strings.Contains(msg, c.want) {
				t.Errorf("create %s: %q lacks %q", c.body, msg, c.want)
			}
		}
		do(t, s, "GET", "/api/v1/repositories/g", admin, "", 404)

		do(t, s, "POST", "/api/v1/repositories", admin, `{"name":"g1","format":"pypi","kind":"group","settings":{"members":["pypi-hosted"]}}`, 201)
		do(t, s, "POST", "/api/v1/repositories", admin, `{"name":"g2","format":"pypi","kind":"group","settings":{"members":["g1"]}}`, 201)
		do(t, s, "POST", "/api/v1/repositories", admin, `{"name":"g3","format":"pypi","kind":"group","settings":{"members":["g2","pypi-hosted"]}}`, 201)
		for _, c := range []struct{ repo, body, want string }{
			{"g1", `{"settings":{"members":["g1"]}}`, "cannot be a member of itself"},
			{"g1", `{"settings":{"members":["pypi-hosted","g2"]}}`, `cycle: g1 → g2 → g1`},
			{"g1", `{"settings":{"members":["g3"]}}`, `cycle: g1 → g3 → g2 → g1`},
			{"g1", `{"settings":{"members":["npm-hosted"]}}`, "is a npm repository"},
			{"g1", `{"settings":{"members":["gone"]}}`, "does not exist"},
		} {
			if msg := apiError(t, do(t, s, "PATCH", "/api/v1/repositories/"+c.repo, admin, c.body, 400)); !strings.Contains(msg, c.want) {
				t.Errorf("patch %s %s: %q lacks %q", c.repo, c.body, msg, c.want)
			}
		}
		var g1 struct{ Settings struct{ Members []string } }
		if decode(t, do(t, s, "GET", "/api/v1/repositories/g1", admin, "", 200), &g1); strings.Join(g1.Settings.Members, ",") != "pypi-hosted" {
			t.Fatalf("refused patches changed g1: %+v", g1)
		}
		// A diamond is not a cycle.
		do(t, s, "PATCH", "/api/v1/repositories/g3", admin, `{"settings":{"members":["g2","g1","pypi-hosted"]}}`, 200)
		// Reads through nested groups still answer.
		if resp, body := s.Do(t, "GET", "/pypi/g3/simple/", admin, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("index of nested group = %d %s", resp.StatusCode, body)
		}
		// A member is not deleted while a group lists it.
		if msg := apiError(t, do(t, s, "DELETE", "/api/v1/repositories/g1", admin, "", 409)); !strings.Contains(msg, `member of group "g`) {
			t.Errorf("delete of a member: %s", msg)
		}
		do(t, s, "PATCH", "/api/v1/repositories/g2", admin, `{"settings":{"members":["pypi-hosted"]}}`, 200)
		do(t, s, "PATCH", "/api/v1/repositories/g3", admin, `{"settings":{"members":["g2"]}}`, 200)
		do(t, s, "DELETE", "/api/v1/repositories/g1", admin, "", 204)
	})
}

func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
