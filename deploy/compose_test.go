package deploy_test

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// loadCompose loads the compose file as `docker compose` does, with the
// secrets it requires set and the given profiles active.
func loadCompose(t *testing.T, env []string, profiles ...string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"compose/compose.yaml"},
		cli.WithEnv(env), cli.WithProfiles(profiles), cli.WithConsistency(true), cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("loading compose/compose.yaml: %v", err)
	}
	return p
}

func TestCompose(t *testing.T) {
	env := []string{"POSTGRES_PASSWORD=pw-for-test", "ARCA_KEK=" + strings.Repeat("A", 43) + "="}
	// Without its secrets the file refuses to load, naming them.
	if _, err := func() (*types.Project, error) {
		opts, _ := cli.NewProjectOptions([]string{"compose/compose.yaml"}, cli.WithEnv(nil))
		return opts.LoadProject(context.Background())
	}(); err == nil || !strings.Contains(err.Error(), "POSTGRES_PASSWORD") {
		t.Errorf("loading without POSTGRES_PASSWORD: %v, want an error naming it", err)
	}

	p := loadCompose(t, env)
	if names := p.ServiceNames(); !slices.Equal(sorted(names), []string{"arca", "postgres"}) {
		t.Errorf("default services %v, want arca and postgres (MinIO only with its profile)", names)
	}
	arca, err := p.GetService("arca")
	if err != nil {
		t.Fatal(err)
	}
	if dep, ok := arca.DependsOn["postgres"]; !ok || dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("arca depends on %+v, want a healthy postgres", arca.DependsOn)
	}
	if u := arca.Environment["ARCA_DATABASE_URL"]; u == nil || !strings.HasPrefix(*u, "postgres://arca:pw-for-test@postgres:5432/arca") {
		t.Errorf("ARCA_DATABASE_URL = %v, want the postgres service with its password", u)
	}
	if k := arca.Environment["ARCA_KEK"]; k == nil || *k == "" {
		t.Error("arca has no ARCA_KEK")
	}
	if arca.HealthCheck == nil || !slices.Equal(arca.HealthCheck.Test, []string{"CMD", "/usr/local/bin/arca", "probe"}) {
		t.Errorf("arca health check %+v, want arca probe (the image has no shell)", arca.HealthCheck)
	}
	if !arca.ReadOnly || arca.User == "" || strings.HasPrefix(arca.User, "0") || !slices.Contains(arca.CapDrop, "ALL") ||
		!slices.Contains(arca.SecurityOpt, "no-new-privileges:true") {
		t.Errorf("arca: read_only %v, user %q, cap_drop %v, security_opt %v; want read-only, non-root, no capabilities",
			arca.ReadOnly, arca.User, arca.CapDrop, arca.SecurityOpt)
	}
	var data bool
	for _, v := range arca.Volumes {
		if v.Type == types.VolumeTypeVolume && v.Target == "/data" {
			_, data = p.Volumes[v.Source]
		}
	}
	if !data || !slices.Contains(arca.Tmpfs, "/tmp") {
		t.Errorf("arca volumes %+v, tmpfs %v: want a named volume at /data and /tmp in memory", arca.Volumes, arca.Tmpfs)
	}
	pg, _ := p.GetService("postgres")
	if pg.HealthCheck == nil || len(pg.HealthCheck.Test) == 0 {
		t.Error("postgres has no health check")
	}

	// The minio profile adds MinIO and the job that makes the bucket.
	env = append(env, "MINIO_ROOT_PASSWORD=minio-pw", "ARCA_BLOB_DRIVER=s3")
	p = loadCompose(t, env, "minio")
	if names := p.ServiceNames(); !slices.Equal(sorted(names), []string{"arca", "minio", "minio-init", "postgres"}) {
		t.Errorf("services with the minio profile: %v", names)
	}
	arca, _ = p.GetService("arca")
	if d := *arca.Environment["ARCA_BLOB_DRIVER"]; d != "s3" || *arca.Environment["ARCA_BLOB_S3_SECRET_KEY"] != "minio-pw" {
		t.Errorf("arca with minio: blob driver %q, secret %q", d, *arca.Environment["ARCA_BLOB_S3_SECRET_KEY"])
	}
	if dep := arca.DependsOn["minio-init"]; dep.Condition != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("arca waits for the bucket with %+v", dep)
	}
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

// TestDockerfile checks the image recipe: a build stage and an empty
// final stage, a static binary, a non-root user, a health check that needs
// no shell.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	froms := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(froms) < 2 || froms[len(froms)-1][1] != "scratch" {
		t.Errorf("stages %v, want a build stage then FROM scratch", froms)
	}
	if !strings.Contains(df, "CGO_ENABLED=0 go build") {
		t.Error("the binary is not built static (CGO_ENABLED=0)")
	}
	user := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(df, -1)
	if len(user) != 1 || strings.HasPrefix(user[0][1], "0") || strings.HasPrefix(user[0][1], "root") {
		t.Errorf("USER %v, want one non-root user", user)
	}
	if !regexp.MustCompile(`(?m)^HEALTHCHECK .*CMD \["/usr/local/bin/arca", "probe"\]`).MatchString(df) {
		t.Error("no HEALTHCHECK with arca probe")
	}
	if !regexp.MustCompile(`(?m)^VOLUME \["/data"\]`).MatchString(df) {
		t.Error("no /data volume")
	}
}
