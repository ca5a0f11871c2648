package auth

import (
	"context"
	"database/sql"
	"regexp"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// User kinds.
const (
	KindUser  = "user"
	KindRobot = "robot"
)

// User is a person or a robot account.
type User struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Email     string `json:"email,omitempty"`
	Role      Role   `json:"role,omitempty"`
	Disabled  bool   `json:"disabled"`
	CreatedAt int64  `json:"created_at"`
}

var userNamePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._@+-]{0,63}$`)

// ValidateUserName checks a user or robot name. Names cannot contain ':'
// (it separates name and password in Basic credentials).
func ValidateUserName(name string) error {
	if !userNamePattern.MatchString(name) || name == TokenUser {
		return errs.E(errs.Invalid, "invalid user name %q: use 1-64 letters, digits and . _ @ + -, starting with a letter or digit", name)
	}
	return nil
}

// CreateUser adds a person with a password. role is the global role ("" for
// none: the user then needs a role on each repository).
func (s *Service) CreateUser(ctx context.Context, name, password, email string, role Role) (*User, error) {
	if err := ValidateUserName(name); err != nil {
		return nil, err
	}
	if err := ValidatePassword(password); err != nil {
		return nil, errs.E(errs.Invalid, "%s", err.Error())
	}
	return s.insertUser(ctx, name, KindUser, HashPassword(password), email, role)
}

// CreateRobot adds a robot account, which authenticates only with tokens.
func (s *Service) CreateRobot(ctx context.Context, name string, role Role) (*User, error) {
	if err := ValidateUserName(name); err != nil {
		return nil, err
	}
	return s.insertUser(ctx, name, KindRobot, "", "", role)
}

func (s *Service) insertUser(ctx context.Context, name, kind, hash, email string, role Role) (*User, error) {
	if _, ok := roleRank[role]; !ok {
		return nil, errs.E(errs.Invalid, "invalid role %q", role)
	}
	u := &User{Name: name, Kind: kind, Email: email, Role: role, CreatedAt: meta.Now()}
	err := s.db.QueryRowContext(ctx,
		`INSERT INTO users (name, kind, email, password_hash, role, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id`,
		name, kind, email, hash, string(role), u.CreatedAt).Scan(&u.ID)
	if meta.IsUniqueViolation(err) {
		return nil, errs.E(errs.Conflict, "user %q already exists", name)
	}
	return u, meta.Err(err)
}

const userColumns = `id, name, kind, email, role, disabled, created_at`

func scanUser(row interface{ Scan(...any) error }) (*User, error) {
	var u User
	var role string
	err := row.Scan(&u.ID, &u.Name, &u.Kind, &u.Email, &role, &u.Disabled, &u.CreatedAt)
	u.Role = Role(role)
	return &u, err
}

// GetUser returns the user named name.
func (s *Service) GetUser(ctx context.Context, name string) (*User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = $1`, name))
	if err == sql.ErrNoRows {
		return nil, errs.E(errs.NotFound, "user %q not found", name)
	}
	return u, meta.Err(err)
}

// HasPassword reports whether pw is the stored password of the user name
// (false for a user without a password). It hashes once and, unlike Login,
// counts no failure: it is for the operator's checks at start, not for
// clients.
func (s *Service) HasPassword(ctx context.Context, name, pw string) (bool, error) {
	var hash sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE name = $1`, name).Scan(&hash)
	if err == sql.ErrNoRows {
		return false, errs.E(errs.NotFound, "user %q not found", name)
	}
	if err != nil {
		return false, meta.Err(err)
	}
	return hash.String != "" && CheckPassword(hash.String, pw), nil
}

// ListUsers returns every user and robot, ordered by name.
func (s *Service) ListUsers(ctx context.Context) ([]*User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []*User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, u)
	}
	return out, meta.Err(rows.Err())
}

// SetPassword replaces a person's password and clears any login lock.
func (s *Service) SetPassword(ctx context.Context, name, password string) error {
	if err := ValidatePassword(password); err != nil {
		return errs.E(errs.Invalid, "%s", err.Error())
	}
	if err := s.updateUser(ctx, name, `UPDATE users SET password_hash = $1, updated_at = $2 WHERE name = $3 AND kind = 'user'`,
		HashPassword(password), meta.Now(), name); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `DELETE FROM login_failures WHERE name = $1`, name)
	return meta.Err(err)
}

// SetRole changes a user's global role.
func (s *Service) SetRole(ctx context.Context, name string, role Role) error {
	if _, ok := roleRank[role]; !ok {
		return errs.E(errs.Invalid, "invalid role %q", role)
	}
	return s.updateUser(ctx, name, `UPDATE users SET role = $1, updated_at = $2 WHERE name = $3`, string(role), meta.Now(), name)
}

// SetDisabled disables or enables an account. A disabled account cannot
// authenticate by any means.
func (s *Service) SetDisabled(ctx context.Context, name string, disabled bool) error {
	return s.updateUser(ctx, name, `UPDATE users SET disabled = $1, updated_at = $2 WHERE name = $3`, disabled, meta.Now(), name)
}

// DeleteUser removes an account with its tokens and roles.
func (s *Service) DeleteUser(ctx context.Context, name string) error {
	return s.updateUser(ctx, name, `DELETE FROM users WHERE name = $1`, name)
}

func (s *Service) updateUser(ctx context.Context, name, query string, args ...any) error {
	res, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "user %q not found", name)
	}
	return nil
}

// Grant gives a user a role on one repository (NoRole removes it).
func (s *Service) Grant(ctx context.Context, userName string, repositoryID int64, role Role) error {
	u, err := s.GetUser(ctx, userName)
	if err != nil {
		return err
	}
	if role == NoRole {
		_, err = s.db.ExecContext(ctx, `DELETE FROM repository_roles WHERE user_id = $1 AND repository_id = $2`, u.ID, repositoryID)
		return meta.Err(err)
	}
	if _, ok := roleRank[role]; !ok {
		return errs.E(errs.Invalid, "invalid role %q", role)
	}
	_, err = s.db.ExecContext(ctx,
		`INSERT INTO repository_roles (user_id, repository_id, role) VALUES ($1, $2, $3)
		 ON CONFLICT (user_id, repository_id) DO UPDATE SET role = excluded.role`, u.ID, repositoryID, string(role))
	return meta.Err(err)
}

// RoleBinding is one user's role on one repository.
type RoleBinding struct {
	User string `json:"user"`
	Role Role   `json:"role"`
}

// RepositoryRoles lists the roles granted on one repository.
func (s *Service) RepositoryRoles(ctx context.Context, repositoryID int64) ([]RoleBinding, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT u.name, rr.role FROM repository_roles rr JOIN users u ON u.id = rr.user_id WHERE rr.repository_id = $1 ORDER BY u.name`, repositoryID)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []RoleBinding
	for rows.Next() {
		var b RoleBinding
		var role string
		if err := rows.Scan(&b.User, &role); err != nil {
			return nil, meta.Err(err)
		}
		b.Role = Role(role)
		out = append(out, b)
	}
	return out, meta.Err(rows.Err())
}
