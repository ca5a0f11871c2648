package search

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// A digest search answers "where is this content used": every row of the
// format tables that refers to the blob (the tables internal/gc's fsck
// lists, less multipart parts in progress), across formats. It reads
// those tables, not the index, so it is exact at the moment it runs.

// usesPerTable bounds the rows read of each table per digest.
const usesPerTable = 200

// maxPrefixMatches bounds the digests a prefix may stand for.
const maxPrefixMatches = 16

// referrer is one kind of use: a query of (repository_id, repository,
// name, version, summary) by digest ($1).
type referrer struct {
	format, kind string
	q            string
}

var referrers = []referrer{
	{"oci", KindManifest, `SELECT x.repository_id, r.name, x.name, COALESCE((SELECT MIN(t.tag) FROM oci_tags t WHERE t.repository_id = x.repository_id AND t.name = x.name AND t.digest = x.digest), ''), x.media_type
		FROM oci_manifests x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
	{"oci", KindLayer, `SELECT x.repository_id, r.name, x.name, '', 'in manifest ' || x.digest
		FROM oci_manifest_refs x JOIN repositories r ON r.id = x.repository_id WHERE x.child = $1`},
	{"oci", KindLayer, `SELECT x.repository_id, r.name, x.name, '', ''
		FROM oci_blobs x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
	{"pypi", KindPackage, `SELECT x.repository_id, r.name, x.name, x.version, x.filename
		FROM pypi_files x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
	{"pypi", KindPackage, `SELECT x.repository_id, r.name, x.name, x.version, x.filename || '.metadata'
		FROM pypi_files x JOIN repositories r ON r.id = x.repository_id WHERE x.metadata_digest = $1`},
	{"pypi", KindCache, `SELECT x.repository_id, r.name, x.filename, '', x.project
		FROM pypi_proxy_files x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
	{"npm", KindPackage, `SELECT x.repository_id, r.name, x.name, x.version, ''
		FROM npm_versions x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
	{"npm", KindCache, `SELECT x.repository_id, r.name, x.file, '', x.name
		FROM npm_proxy_tarballs x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
	{"npm", KindCache, `SELECT x.repository_id, r.name, x.name, '', 'packument'
		FROM npm_proxy_packuments x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
	{"maven", KindPackage, `SELECT x.repository_id, r.name, x.group_id || ':' || x.artifact_id, x.version, x.path
		FROM maven_files x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
	{"maven", KindCache, `SELECT x.repository_id, r.name, x.path, '', ''
		FROM maven_proxy_files x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
	{"go", KindPackage, `SELECT x.repository_id, r.name, x.module, x.version, 'module zip'
		FROM go_versions x JOIN repositories r ON r.id = x.repository_id WHERE x.zip_digest = $1`},
	{"go", KindPackage, `SELECT x.repository_id, r.name, x.module, x.version, 'go.mod'
		FROM go_versions x JOIN repositories r ON r.id = x.repository_id WHERE x.mod_digest = $1`},
	{"go", KindCache, `SELECT x.repository_id, r.name, x.path, '', ''
		FROM go_proxy_files x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
	{"helm", KindPackage, `SELECT x.repository_id, r.name, x.name, x.version, 'chart'
		FROM helm_charts x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
	{"helm", KindPackage, `SELECT x.repository_id, r.name, x.name, x.version, 'provenance'
		FROM helm_charts x JOIN repositories r ON r.id = x.repository_id WHERE x.prov_digest = $1`},
	{"helm", KindCache, `SELECT x.repository_id, r.name, x.path, '', ''
		FROM helm_proxy_files x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
	{"raw", KindFile, `SELECT x.repository_id, r.name, x.path, '', x.content_type
		FROM raw_files x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
	{"s3", KindObject, `SELECT x.repository_id, r.name, x.key, '', ''
		FROM s3_objects x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
	{"s3", KindObject, `SELECT x.repository_id, r.name, x.key, x.version_id, 'noncurrent version'
		FROM s3_object_versions x JOIN repositories r ON r.id = x.repository_id WHERE x.digest = $1`},
}

// ReferrerTables names the table and column each digest query reads, for
// the test that keeps this list beside internal/gc's.
func ReferrerTables() []string {
	var out []string
	for _, r := range referrers {
		from := r.q[strings.LastIndex(r.q, "FROM ")+5:]
		table, _, _ := strings.Cut(from, " ")
		col := r.q[strings.LastIndex(r.q, "x.")+2:]
		col, _, _ = strings.Cut(col, " ")
		out = append(out, table+"."+col)
	}
	return out
}

func (s *Service) digestSearch(ctx context.Context, p auth.Principal, q Query, f filter, offset, limit int) ([]Result, error) {
	digests, err := s.resolveDigest(ctx, q.Digest)
	if err != nil {
		return nil, err
	}
	cond := ""
	if !f.all {
		if len(f.repos) == 0 {
			return nil, nil
		}
		cond = " AND x.repository_id IN (" + ints(f.repos) + ")"
	}
	artifacts := ""
	if s.MLflow != nil {
		if artifacts, err = s.MLflow.ArtifactBucket(ctx); errs.Is(err, errs.Unavailable) {
			artifacts, err = "", nil
		}
		if err != nil {
			return nil, err
		}
	}
	var out []Result
	seen := map[string]bool{}
	guarded := map[int64]*repo.Repository{}
	for _, d := range digests {
		for _, ref := range referrers {
			if q.Format != "" && q.Format != ref.format && !(q.Format == "mlflow" && ref.format == "s3") {
				continue
			}
			rows, err := s.DB.QueryContext(ctx, ref.q+cond+" LIMIT "+itoa(usesPerTable), d)
			if err != nil {
				return nil, meta.Err(err)
			}
			var found []Result
			var ids []int64
			if err := each(rows, func() error {
				var id int64
				r := Result{Format: ref.format, Kind: ref.kind, Digests: []string{d}}
				if err := rows.Scan(&id, &r.Repository, &r.Name, &r.Version, &r.Summary); err != nil {
					return err
				}
				found = append(found, r)
				ids = append(ids, id)
				return nil
			}); err != nil {
				return nil, err
			}
			for i, r := range found {
				if ref.format == "s3" && r.Repository == artifacts && artifacts != "" {
					// MLflow's permissions hold for its artifacts.
					ok, err := s.readsObject(ctx, p, guarded, ids[i], r.Repository, r.Name)
					if err != nil {
						return nil, err
					}
					if !ok {
						continue
					}
					r.Format, r.Kind = "mlflow", KindArtifact
				}
				if (q.Format != "" && q.Format != r.Format) || (q.Repository != "" && q.Repository != r.Repository) || (q.Kind != "" && q.Kind != r.Kind) {
					continue
				}
				k := r.Format + "\x00" + r.Repository + "\x00" + r.Kind + "\x00" + r.Name + "\x00" + r.Version + "\x00" + d
				if r.Kind == KindLayer {
					k = r.Repository + "\x00layer\x00" + r.Name + "\x00" + d
				}
				if seen[k] {
					continue
				}
				seen[k] = true
				out = append(out, r)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Format != b.Format {
			return a.Format < b.Format
		}
		if a.Repository != b.Repository {
			return a.Repository < b.Repository
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Version < b.Version
	})
	if offset >= len(out) {
		return nil, nil
	}
	return out[offset:min(offset+limit, len(out))], nil
}

// readsObject is the S3 surface's own check of reading one object
// (auth.Service.AuthorizeObjects, which consults MLflow's guard).
func (s *Service) readsObject(ctx context.Context, p auth.Principal, cache map[int64]*repo.Repository, id int64, bucket, key string) (bool, error) {
	rp := cache[id]
	if rp == nil {
		var err error
		if rp, err = s.Repos.Get(ctx, bucket); err != nil {
			return false, err
		}
		cache[id] = rp
	}
	err := s.Auth.AuthorizeObjects(ctx, p, rp, auth.Read, auth.ObjectScope{Key: key})
	switch {
	case err == nil:
		return true, nil
	case errs.Is(err, errs.Denied), errs.Is(err, errs.Unauthenticated):
		return false, nil
	}
	return false, err
}

// resolveDigest returns the digests q names: itself when whole, else the
// stored blobs it is a prefix of (at most maxPrefixMatches).
func (s *Service) resolveDigest(ctx context.Context, d string) ([]string, error) {
	if len(d) == len("sha256:")+64 {
		return []string{d}, nil
	}
	// Digests are lowercase hex: every one starting with d sorts below
	// d + "g".
	return meta.QueryStrings(ctx, s.DB, `SELECT digest FROM blobs WHERE digest >= $1 AND digest < $2 ORDER BY digest LIMIT `+itoa(maxPrefixMatches), d, d+"g")
}

func itoa(n int) string { return strconv.Itoa(n) }
