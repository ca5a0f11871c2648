package auth

import (
	"github.com/arcaproject/arca/internal/errs"
)

// Role is a level of access to a repository. Each role includes the ones
// before it.
type Role string

const (
	NoRole     Role = ""
	Reader     Role = "reader"     // read and download
	Developer  Role = "developer"  // also push and upload
	Maintainer Role = "maintainer" // also delete and overwrite
	Admin      Role = "admin"      // also manage the repository (settings, roles)
)

var roleRank = map[Role]int{NoRole: 0, Reader: 1, Developer: 2, Maintainer: 3, Admin: 4}

// ParseRole validates a role name; "writer" is accepted for developer.
func ParseRole(s string) (Role, error) {
	if s == "writer" {
		return Developer, nil
	}
	r := Role(s)
	if _, ok := roleRank[r]; !ok || r == NoRole {
		return NoRole, errs.E(errs.Invalid, "invalid role %q: want reader, developer, maintainer or admin", s)
	}
	return r, nil
}

// Includes reports whether r grants at least other.
func (r Role) Includes(other Role) bool { return roleRank[r] >= roleRank[other] }

func maxRole(a, b Role) Role {
	if roleRank[a] >= roleRank[b] {
		return a
	}
	return b
}

// Action is what a request wants to do to a repository.
type Action int

const (
	Read   Action = iota // pull, download, list
	Write                // push, upload new content
	Delete               // delete or overwrite content
	Manage               // change the repository's settings and roles
)

func (a Action) String() string {
	return [...]string{"read", "write", "delete", "manage"}[a]
}

// required is the least role that may perform a.
func (a Action) required() Role {
	return [...]Role{Reader, Developer, Maintainer, Admin}[a]
}
