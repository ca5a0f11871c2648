package auth

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// AccessKey is an S3 access key pair of a user or robot (SigV4
// credentials). Its secret is shown once at creation; it is stored sealed
// with AES-256-GCM under a server-wide key, because verifying a SigV4
// signature needs the secret itself.
type AccessKey struct {
	ID          string `json:"access_key_id"`
	User        string `json:"user"`
	Description string `json:"description,omitempty"`
	LastUsedAt  int64  `json:"last_used_at,omitempty"`
	CreatedAt   int64  `json:"created_at"`
}

// accessKeyAlphabet is what generated access key IDs are made of (as AWS
// key IDs: upper-case letters and digits).
const accessKeyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// ValidateAccessKeyID checks a chosen access key ID: 3-128 characters
// without spaces, '/', ',' or '=' (which would break the Credential field
// of a SigV4 Authorization header).
func ValidateAccessKeyID(id string) error {
	if len(id) < 3 || len(id) > 128 || strings.ContainsFunc(id, func(c rune) bool {
		return c <= ' ' || c > '~' || c == '/' || c == ',' || c == '=' || c == ';'
	}) {
		return errs.E(errs.Invalid, "invalid access key ID: use 3-128 printable characters without spaces, / , ; or =")
	}
	return nil
}

// ValidateAccessKeySecret checks a chosen secret: 8-128 printable characters.
func ValidateAccessKeySecret(secret string) error {
	if len(secret) < 8 || len(secret) > 128 || strings.ContainsFunc(secret, func(c rune) bool { return c < ' ' || c > '~' }) {
		return errs.E(errs.Invalid, "invalid secret access key: use 8-128 printable ASCII characters")
	}
	return nil
}

// CreateAccessKey gives the named user or robot a new access key. Empty id
// and secret are generated (20 and 40 characters, like AWS keys). The
// secret is returned once.
func (s *Service) CreateAccessKey(ctx context.Context, userName, id, secret, description string) (*AccessKey, string, error) {
	if id == "" {
		id = randomKeyID()
	}
	if secret == "" {
		secret = RandomTypable(40)
	}
	if err := ValidateAccessKeyID(id); err != nil {
		return nil, "", err
	}
	if err := ValidateAccessKeySecret(secret); err != nil {
		return nil, "", err
	}
	if len(description) > 200 {
		return nil, "", errs.E(errs.Invalid, "description too long (max 200 characters)")
	}
	u, err := s.GetUser(ctx, userName)
	if err != nil {
		return nil, "", err
	}
	sealed, err := s.sealSecret(ctx, id, secret)
	if err != nil {
		return nil, "", err
	}
	k := &AccessKey{ID: id, User: u.Name, Description: description, CreatedAt: meta.Now()}
	_, err = s.db.ExecContext(ctx,
		`INSERT INTO access_keys (user_id, access_key_id, secret, description, created_at) VALUES ($1, $2, $3, $4, $5)`,
		u.ID, id, sealed, description, k.CreatedAt)
	if meta.IsUniqueViolation(err) {
		return nil, "", errs.E(errs.Conflict, "access key %q already exists", id)
	}
	if err != nil {
		return nil, "", meta.Err(err)
	}
	return k, secret, nil
}

// SetAccessKeySecret replaces the secret of an existing key of the named
// user (used to apply a configured key pair, as MinIO applies its root
// credentials on every start).
func (s *Service) SetAccessKeySecret(ctx context.Context, userName, id, secret string) error {
	if err := ValidateAccessKeySecret(secret); err != nil {
		return err
	}
	sealed, err := s.sealSecret(ctx, id, secret)
	if err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx,
		`UPDATE access_keys SET secret = $1 WHERE access_key_id = $2 AND user_id = (SELECT id FROM users WHERE name = $3)`, sealed, id, userName)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "user %q has no access key %q", userName, id)
	}
	return nil
}

func randomKeyID() string {
	var b [16]byte
	rand.Read(b[:])
	var sb strings.Builder
	sb.WriteString("ARCA")
	for _, c := range b {
		sb.WriteByte(accessKeyAlphabet[int(c)%len(accessKeyAlphabet)])
	}
	return sb.String()
}

// ListAccessKeys lists a user's access keys, without secrets.
func (s *Service) ListAccessKeys(ctx context.Context, userName string) ([]*AccessKey, error) {
	if _, err := s.GetUser(ctx, userName); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx,
		`SELECT k.access_key_id, u.name, k.description, k.last_used_at, k.created_at
		 FROM access_keys k JOIN users u ON u.id = k.user_id WHERE u.name = $1 ORDER BY k.created_at, k.access_key_id`, userName)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	out := []*AccessKey{}
	for rows.Next() {
		var k AccessKey
		if err := rows.Scan(&k.ID, &k.User, &k.Description, &k.LastUsedAt, &k.CreatedAt); err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, &k)
	}
	return out, meta.Err(rows.Err())
}

// RevokeAccessKey deletes one of a user's access keys.
func (s *Service) RevokeAccessKey(ctx context.Context, userName, id string) error {
	res, err := s.db.ExecContext(ctx,
		`DELETE FROM access_keys WHERE access_key_id = $1 AND user_id = (SELECT id FROM users WHERE name = $2)`, id, userName)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "user %q has no access key %q", userName, id)
	}
	return nil
}

// AccessKeySecret resolves an access key ID to its owner and its secret,
// for verifying a signature. An unknown key, or one of a disabled account,
// is errs.Unauthenticated with code "InvalidAccessKeyId". The secret must
// never be logged.
func (s *Service) AccessKeySecret(ctx context.Context, id string) (Principal, string, error) {
	var p Principal
	var role, sealed string
	var disabled bool
	var lastUsed int64
	err := s.db.QueryRowContext(ctx,
		`SELECT k.secret, k.last_used_at, u.id, u.name, u.kind, u.role, u.disabled
		 FROM access_keys k JOIN users u ON u.id = k.user_id WHERE k.access_key_id = $1`, id).
		Scan(&sealed, &lastUsed, &p.UserID, &p.Name, &p.Kind, &role, &disabled)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && disabled) {
		return Principal{}, "", errs.E(errs.Unauthenticated, "the access key ID does not exist in our records").WithCode("InvalidAccessKeyId")
	}
	if err != nil {
		return Principal{}, "", meta.Err(err)
	}
	p.Role = Role(role)
	secret, err := s.openSecret(ctx, id, sealed)
	if err != nil {
		return Principal{}, "", err
	}
	// Recording last use is best effort and throttled to once a minute.
	if now := meta.Now(); lastUsed < now-60_000 {
		s.db.ExecContext(ctx, `UPDATE access_keys SET last_used_at = $1 WHERE access_key_id = $2`, now, id)
	}
	return p, secret, nil
}

// accessKeySealKey names the server key that seals secret access keys.
const accessKeySealKey = "access_key_encryption_key"

// sealSecret encrypts secret under a server key (internal/keyring), bound
// to its key ID (the additional data), so a sealed secret copied to
// another key's row does not open.
func (s *Service) sealSecret(ctx context.Context, id, secret string) (string, error) {
	return s.keys.Seal(ctx, accessKeySealKey, []byte(secret), []byte(id))
}

func (s *Service) openSecret(ctx context.Context, id, sealed string) (string, error) {
	plain, err := s.keys.Unseal(ctx, accessKeySealKey, sealed, []byte(id))
	if err != nil {
		return "", errs.Wrap(err, errs.Internal, "access key %q cannot be decrypted", id)
	}
	return string(plain), nil
}
