package replication

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// Sealer seals and unseals values under a named server key
// (internal/keyring.Keyring).
type Sealer interface {
	Seal(ctx context.Context, key string, plaintext, ad []byte) (string, error)
	Unseal(ctx context.Context, key, sealed string, ad []byte) ([]byte, error)
}

// credentialKey names the server key that seals remote credentials.
const credentialKey = "replication_credentials_key"

const sealedPrefix = "sealed:"

// ad binds a sealed credential to its policy and field.
func ad(policy, field string) []byte {
	return []byte("replication policy " + policy + " remote." + field)
}

// store is the policies, runs and items tables.
type store struct {
	db     *meta.DB
	sealer Sealer
}

const policyColumns = `p.id, p.name, r.name, r.format, p.direction, p.on_event, p.enabled, p.config, p.created_at, p.updated_at`

const policyFrom = ` FROM replication_policies p JOIN repositories r ON r.id = p.repository_id`

func (s *store) scanPolicy(ctx context.Context, row interface{ Scan(...any) error }) (*Policy, error) {
	var p Policy
	var cfg string
	if err := row.Scan(&p.ID, &p.Name, &p.Repository, &p.Format, &p.Direction, &p.OnEvent, &p.Enabled, &cfg, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return nil, err
	}
	var c config
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		return nil, errs.Wrap(err, errs.Internal, "corrupt configuration of replication policy %q", p.Name)
	}
	p.Remote, p.Filter, p.Schedule, p.Deletes, p.BandwidthLimit = c.Remote, c.Filter, c.Schedule, c.Deletes, c.BandwidthLimit
	for _, f := range []*string{&p.Remote.Username, &p.Remote.Password} {
		sv, ok := strings.CutPrefix(*f, sealedPrefix)
		if !ok {
			continue
		}
		field := "username"
		if f == &p.Remote.Password {
			field = "password"
		}
		plain, err := s.sealer.Unseal(ctx, credentialKey, sv, ad(p.Name, field))
		if err != nil {
			return nil, errs.Wrap(err, errs.Internal, "remote.%s of replication policy %q cannot be unsealed", field, p.Name)
		}
		*f = string(plain)
	}
	return &p, nil
}

// sealedConfig is p's config column, credentials sealed.
func (s *store) sealedConfig(ctx context.Context, p *Policy) (string, error) {
	c := config{Remote: p.Remote, Filter: p.Filter, Schedule: p.Schedule, Deletes: p.Deletes, BandwidthLimit: p.BandwidthLimit}
	for field, f := range map[string]*string{"username": &c.Remote.Username, "password": &c.Remote.Password} {
		if *f == "" {
			continue
		}
		sv, err := s.sealer.Seal(ctx, credentialKey, []byte(*f), ad(p.Name, field))
		if err != nil {
			return "", err
		}
		*f = sealedPrefix + sv
	}
	b, err := json.Marshal(c)
	return string(b), err
}

func (s *store) get(ctx context.Context, id int64) (*Policy, error) {
	p, err := s.scanPolicy(ctx, s.db.QueryRowContext(ctx, `SELECT `+policyColumns+policyFrom+` WHERE p.id = $1`, id))
	if err == sql.ErrNoRows {
		return nil, errs.E(errs.NotFound, "no replication policy %d", id)
	}
	return p, meta.Err(err)
}

// list returns the policies, of one local repository when repository is
// not empty.
func (s *store) list(ctx context.Context, repository string) ([]*Policy, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+policyColumns+policyFrom+` WHERE ($1 = '' OR r.name = $1) ORDER BY p.name`, repository)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	out := []*Policy{}
	for rows.Next() {
		p, err := s.scanPolicy(ctx, rows)
		if err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, p)
	}
	return out, meta.Err(rows.Err())
}

// eventPolicies returns the enabled on-event push policies of a repository.
func (s *store) eventPolicies(ctx context.Context, repository string) ([]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT p.id`+policyFrom+` WHERE r.name = $1 AND p.on_event = $2 AND p.enabled = $2 AND p.direction = $3`,
		repository, true, Push)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, meta.Err(err)
		}
		ids = append(ids, id)
	}
	return ids, meta.Err(rows.Err())
}

func (s *store) create(ctx context.Context, p *Policy, repositoryID int64) error {
	cfg, err := s.sealedConfig(ctx, p)
	if err != nil {
		return err
	}
	now := meta.Now()
	err = s.db.QueryRowContext(ctx, `INSERT INTO replication_policies (name, repository_id, direction, on_event, enabled, config, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id`, p.Name, repositoryID, p.Direction, p.OnEvent, p.Enabled, cfg, now).Scan(&p.ID)
	if err != nil {
		err = meta.Err(err)
		if errs.Is(err, errs.Conflict) {
			return errs.E(errs.Conflict, "a replication policy named %q exists", p.Name)
		}
		return err
	}
	p.CreatedAt, p.UpdatedAt = now, now
	return nil
}

func (s *store) update(ctx context.Context, p *Policy, repositoryID int64) error {
	cfg, err := s.sealedConfig(ctx, p)
	if err != nil {
		return err
	}
	p.UpdatedAt = meta.Now()
	res, err := s.db.ExecContext(ctx, `UPDATE replication_policies SET repository_id = $1, direction = $2, on_event = $3, enabled = $4, config = $5, updated_at = $6 WHERE id = $7`,
		repositoryID, p.Direction, p.OnEvent, p.Enabled, cfg, p.UpdatedAt, p.ID)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "no replication policy %d", p.ID)
	}
	return nil
}

func (s *store) delete(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM replication_policies WHERE id = $1`, id)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.E(errs.NotFound, "no replication policy %d", id)
	}
	return nil
}

// lastStart returns when the policy's newest run of cause began (0: never).
func (s *store) lastStart(ctx context.Context, policyID int64, cause string) (int64, error) {
	var at sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MAX(started_at) FROM replication_runs WHERE policy_id = $1 AND cause = $2`, policyID, cause).Scan(&at)
	return at.Int64, meta.Err(err)
}
