package clientconf

import (
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/arcaproject/arca/internal/errs"
)

// setNetrc sets the one-line entry "machine <host> login <user> password
// <secret>" of a .netrc, replacing a one-line entry of the same machine
// and leaving every other line as it was.
func setNetrc(content, host, user, secret string) string {
	entry := "machine " + host + " login " + user + " password " + secret
	lines := splitLines(content)
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "machine" && f[1] == host {
			lines[i] = entry
			return joinLines(lines)
		}
	}
	return joinLines(append(lines, entry))
}

// setHelmRepo sets the repository named name in helm's repositories.yaml
// (what helm repo add writes), keeping the other repositories and fields.
func setHelmRepo(content, name, url, user, secret string) (string, error) {
	doc := map[string]any{}
	if strings.TrimSpace(content) != "" {
		if err := yaml.Unmarshal([]byte(content), &doc); err != nil {
			return "", errs.E(errs.Invalid, "not helm's repositories.yaml: %v", err)
		}
	}
	if _, ok := doc["apiVersion"]; !ok {
		doc["apiVersion"] = ""
	}
	entry := map[string]any{"name": name, "url": url, "username": user, "password": secret}
	repos, _ := doc["repositories"].([]any)
	found := false
	for i, r := range repos {
		if m, ok := r.(map[string]any); ok && m["name"] == name {
			for k, v := range entry {
				m[k] = v
			}
			repos[i], found = m, true
		}
	}
	if !found {
		repos = append(repos, entry)
	}
	doc["repositories"] = repos
	b, err := yaml.Marshal(doc)
	if err != nil {
		return "", errs.Wrap(err, errs.Internal, "writing repositories.yaml")
	}
	return string(b), nil
}
