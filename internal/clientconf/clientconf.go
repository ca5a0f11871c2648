// Package clientconf writes the configuration files that point each client
// at an arca server — pip, uv, twine, npm (and pnpm, yarn), docker (and
// crane, skopeo, oras, podman), the AWS CLI (and boto3), DVC and the MLflow
// client, the go command and helm — as `arca configure` does. It only computes files: given a
// file's current content it returns the new one, changing only the
// settings it owns, so that running it twice changes nothing.
package clientconf

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
)

// Target is the server and the credentials a client is pointed at.
type Target struct {
	// URL is the main listener, e.g. http://localhost:8080.
	URL *url.URL
	// S3URL is the S3 listener, e.g. http://localhost:9000.
	S3URL *url.URL
	// Repo is the repository (or bucket) the client uses; "" picks the
	// client's default repository.
	Repo string
	// User and Secret are the credentials: a user or robot name and an API
	// token (or password).
	User, Secret string
	// AccessKey and SecretKey are an S3 key pair, for aws and dvc.
	AccessKey, SecretKey string
	// Private lists module path prefixes only arca serves, comma-separated
	// (the go command's GONOSUMDB); "" leaves GONOSUMDB alone.
	Private string
}

// Edit is one file a client reads.
type Edit struct {
	// Path is the file, relative to the home directory, or to the working
	// directory when InWorkDir is set (DVC's per-repository config).
	Path      string
	InWorkDir bool
	// Apply returns the file's new content from its current one ("" when
	// the file does not exist).
	Apply func(old string) (string, error)
}

// Clients lists the clients For knows, for usage messages.
func Clients() []string {
	return []string{"aws", "docker", "dvc", "go", "helm", "mlflow", "npm", "pip", "twine", "uv", "yarn"}
}

// defaultRepo is the repository a client uses when Target.Repo is "": one
// of the repositories arca creates at first start.
func defaultRepo(client string) string {
	switch client {
	case "pip", "uv", "twine":
		return "pypi-hosted"
	case "npm", "yarn":
		return "npm-hosted"
	case "dvc":
		return "dvc-storage"
	case "go":
		return "go-hosted"
	case "helm":
		return "helm-hosted"
	}
	return ""
}

// For returns the edits that point client at t.
func For(client string, t Target) ([]Edit, error) {
	if t.URL == nil || t.URL.Host == "" {
		return nil, errs.E(errs.Invalid, "a server URL is needed, e.g. --url http://localhost:8080")
	}
	repo := t.Repo
	if repo == "" {
		repo = defaultRepo(client)
	}
	base := strings.TrimSuffix(t.URL.String(), "/")
	needSecret := func() error {
		if t.User == "" || t.Secret == "" {
			return errs.E(errs.Invalid, "%s needs a user and a token (--user, --token or --token-stdin)", client)
		}
		return nil
	}
	needKeys := func() error {
		if t.AccessKey == "" || t.SecretKey == "" || t.S3URL == nil || t.S3URL.Host == "" {
			return errs.E(errs.Invalid, "%s needs the S3 endpoint and an S3 key pair (--s3-url, --access-key, --secret-key)", client)
		}
		return nil
	}
	switch client {
	case "pip":
		if err := needSecret(); err != nil {
			return nil, err
		}
		index := withUser(t.URL, t.User, t.Secret) + "/pypi/" + repo + "/simple/"
		return []Edit{{Path: ".config/pip/pip.conf", Apply: func(old string) (string, error) {
			return setINI(old, "global", "index-url", index), nil
		}}}, nil
	case "uv":
		if err := needSecret(); err != nil {
			return nil, err
		}
		block := fmt.Sprintf("[[index]]\nname = \"arca\"\nurl = %q\ndefault = true\n", withUser(t.URL, t.User, t.Secret)+"/pypi/"+repo+"/simple/")
		return []Edit{{Path: ".config/uv/uv.toml", Apply: func(old string) (string, error) {
			return setBlock(old, "#", block), nil
		}}}, nil
	case "twine":
		if err := needSecret(); err != nil {
			return nil, err
		}
		return []Edit{{Path: ".pypirc", Apply: func(old string) (string, error) {
			servers, _ := getINI(old, "distutils", "index-servers")
			names := strings.Fields(servers)
			if !contains(names, "arca") {
				names = append(names, "arca")
			}
			s := setINI(old, "distutils", "index-servers", strings.Join(names, " "))
			s = setINI(s, "arca", "repository", base+"/pypi/"+repo+"/")
			s = setINI(s, "arca", "username", t.User)
			return setINI(s, "arca", "password", t.Secret), nil
		}}}, nil
	case "npm", "yarn":
		if err := needSecret(); err != nil {
			return nil, err
		}
		registry := base + "/npm/" + repo + "/"
		authKey := "//" + t.URL.Host + strings.TrimSuffix(t.URL.Path, "/") + "/npm/" + repo + "/:_authToken"
		return []Edit{{Path: ".npmrc", Apply: func(old string) (string, error) {
			s := setLine(old, "registry", registry)
			s = setLine(s, authKey, t.Secret)
			if client == "yarn" {
				// yarn classic sends credentials only with always-auth
				// (which npm 11 warns about, so npm's own file lacks it).
				s = setLine(s, "always-auth", "true")
			}
			return s, nil
		}}}, nil
	case "docker":
		if err := needSecret(); err != nil {
			return nil, err
		}
		return []Edit{{Path: ".docker/config.json", Apply: func(old string) (string, error) {
			return setDockerAuth(old, t.URL.Host, t.User, t.Secret)
		}}}, nil
	case "aws":
		if err := needKeys(); err != nil {
			return nil, err
		}
		return []Edit{
			{Path: ".aws/config", Apply: func(old string) (string, error) {
				s := setINI(old, "profile arca", "region", "us-east-1")
				return setINI(s, "profile arca", "endpoint_url", strings.TrimSuffix(t.S3URL.String(), "/")), nil
			}},
			{Path: ".aws/credentials", Apply: func(old string) (string, error) {
				s := setINI(old, "arca", "aws_access_key_id", t.AccessKey)
				return setINI(s, "arca", "aws_secret_access_key", t.SecretKey), nil
			}},
		}, nil
	case "dvc":
		if err := needKeys(); err != nil {
			return nil, err
		}
		section := `'remote "arca"'`
		return []Edit{{Path: filepath.Join(".dvc", "config.local"), InWorkDir: true, Apply: func(old string) (string, error) {
			s := setINI(old, "core", "remote", "arca")
			s = setINI(s, section, "url", "s3://"+repo)
			s = setINI(s, section, "endpointurl", strings.TrimSuffix(t.S3URL.String(), "/"))
			s = setINI(s, section, "access_key_id", t.AccessKey)
			return setINI(s, section, "secret_access_key", t.SecretKey), nil
		}}}, nil
	case "go":
		// go env -w writes the same file; credentials go to ~/.netrc, which
		// the go command reads for HTTPS proxies (it sends none over http).
		if err := needSecret(); err != nil {
			return nil, err
		}
		if strings.ContainsAny(t.Private, " \t\r\n=") {
			return nil, errs.E(errs.Invalid, "--private takes module path prefixes separated by commas")
		}
		return []Edit{
			{Path: ".config/go/env", Apply: func(old string) (string, error) {
				s := setLine(old, "GOPROXY", base+"/go/"+repo)
				if t.Private != "" {
					s = setLine(s, "GONOSUMDB", t.Private)
				}
				return s, nil
			}},
			{Path: ".netrc", Apply: func(old string) (string, error) {
				return setNetrc(old, t.URL.Host, t.User, t.Secret), nil
			}},
		}, nil
	case "helm":
		if err := needSecret(); err != nil {
			return nil, err
		}
		return []Edit{{Path: ".config/helm/repositories.yaml", Apply: func(old string) (string, error) {
			return setHelmRepo(old, "arca", base+"/helm/"+repo, t.User, t.Secret)
		}}}, nil
	case "mlflow":
		if err := needSecret(); err != nil {
			return nil, err
		}
		env := fmt.Sprintf("export MLFLOW_TRACKING_URI=%s/mlflow\nexport MLFLOW_TRACKING_USERNAME=%s\nexport MLFLOW_TRACKING_PASSWORD=%s\n",
			base, shellQuote(t.User), shellQuote(t.Secret))
		return []Edit{{Path: ".config/arca/mlflow.env", Apply: func(old string) (string, error) {
			return setBlock(old, "#", env), nil
		}}}, nil
	}
	return nil, errs.E(errs.Invalid, "unknown client %q; known: %s", client, strings.Join(Clients(), ", "))
}

// withUser is u with credentials in its authority, as pip and uv take them.
func withUser(u *url.URL, user, secret string) string {
	c := *u
	c.User = url.UserPassword(user, secret)
	return strings.TrimSuffix(c.String(), "/")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// setBlock replaces the lines between arca's markers (comments in the
// file's syntax) with block, or appends them: for formats whose files are
// easier to own in one piece (uv's TOML array of indexes, an env file).
func setBlock(old, comment, block string) string {
	begin, end := comment+" BEGIN arca (arca configure)", comment+" END arca"
	var out []string
	in, done := false, false
	for _, l := range splitLines(old) {
		switch {
		case strings.TrimSpace(l) == begin:
			in = true
		case in && strings.TrimSpace(l) == end:
			in = false
			if !done {
				out = append(out, begin, strings.TrimSuffix(block, "\n"), end)
				done = true
			}
		case !in:
			out = append(out, l)
		}
	}
	if !done {
		if len(out) > 0 && strings.TrimSpace(out[len(out)-1]) != "" {
			out = append(out, "")
		}
		out = append(out, begin, strings.TrimSuffix(block, "\n"), end)
	}
	return joinLines(out)
}

// setDockerAuth sets the credentials of host in a docker config.json,
// keeping every other field.
func setDockerAuth(old, host, user, secret string) (string, error) {
	cfg := map[string]any{}
	if strings.TrimSpace(old) != "" {
		if err := json.Unmarshal([]byte(old), &cfg); err != nil {
			return "", errs.Wrap(err, errs.Invalid, "the existing docker config is not JSON")
		}
	}
	auths, _ := cfg["auths"].(map[string]any)
	if auths == nil {
		auths = map[string]any{}
	}
	entry, _ := auths[host].(map[string]any)
	if entry == nil {
		entry = map[string]any{}
	}
	entry["auth"] = base64.StdEncoding.EncodeToString([]byte(user + ":" + secret))
	auths[host] = entry
	cfg["auths"] = auths
	b, err := json.MarshalIndent(cfg, "", "\t")
	if err != nil {
		return "", err
	}
	return string(b) + "\n", nil
}

// Mask replaces every secret of t in s, for showing a file or a diff.
func Mask(s string, t Target) string {
	var secrets []string
	for _, v := range []string{t.Secret, t.SecretKey} {
		if v != "" {
			secrets = append(secrets, v, url.UserPassword("x", v).String()[2:], base64.StdEncoding.EncodeToString([]byte(t.User+":"+v)), shellQuote(v))
		}
	}
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, "****")
		}
	}
	return s
}
