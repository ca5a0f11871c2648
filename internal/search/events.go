package search

import (
	"strings"

	"github.com/arcaproject/arca/internal/audit"
)

// Targets are the parts of the index an audited change makes stale: the
// group of the item the event names in its repository, or the whole
// repository when the event names no item. Events that change no
// searchable content (sign-ins, tokens, roles, visibility: permissions
// are checked when searching) have none. A repository's deletion takes
// its documents with it (ON DELETE CASCADE).
func Targets(e audit.Event) []Target {
	if e.Repository == "" {
		return nil
	}
	one := func(group string) []Target {
		if group == "" {
			return nil
		}
		return []Target{{Repository: e.Repository, Group: group}}
	}
	whole := []Target{{Repository: e.Repository}}
	format, _, _ := strings.Cut(e.Action, ".")
	switch format {
	case "oci":
		switch e.Action {
		case "oci.manifest.push", "oci.manifest.delete":
			image, _, _ := cutLast(e.Subject, "@")
			return one(image)
		case "oci.tag.delete":
			image, _, _ := cutLast(e.Subject, ":")
			return one(image)
		case "oci.retention":
			return whole
		}
		return nil // blobs are found by digest, from the format tables
	case "pypi":
		project, _, _ := strings.Cut(e.Subject, "/")
		return one(project)
	case "npm":
		name := e.Subject
		if i := strings.LastIndexByte(name, '@'); i > 0 {
			name = name[:i]
		}
		return one(name)
	case "maven":
		return one(mavenGroup(e.Subject))
	case "go":
		module, _, _ := cutLast(e.Subject, "@")
		return one(module)
	case "helm":
		// "<name>-<version>": both may hold dashes, so every split is a
		// candidate; a name without charts only deletes nothing.
		var out []Target
		for i := strings.IndexByte(e.Subject, '-'); i > 0; {
			out = append(out, Target{Repository: e.Repository, Group: e.Subject[:i]})
			j := strings.IndexByte(e.Subject[i+1:], '-')
			if j < 0 || len(out) >= 16 {
				break
			}
			i += j + 1
		}
		return out
	case "raw":
		return one(e.Subject)
	case "s3":
		switch e.Action {
		case "s3.put", "s3.replace", "s3.copy", "s3.delete":
			return one(e.Subject)
		}
		return nil
	case "mlflow":
		return mlflowTargets(e)
	case "replication":
		if e.Action == "replication.finished" {
			return whole
		}
	}
	return nil
}

func mlflowTargets(e audit.Event) []Target {
	t := func(groups ...string) []Target {
		var out []Target
		for _, g := range groups {
			out = append(out, Target{Repository: e.Repository, Group: g})
		}
		return out
	}
	parts := strings.Split(e.Action, ".")
	if len(parts) < 2 || e.Subject == "" {
		return nil
	}
	switch parts[1] {
	case "experiment":
		return t(groupExperiment + e.Subject)
	case "run":
		return t(groupRun + e.Subject)
	case "registered_model":
		if from, ok := e.Detail["from"].(string); ok && e.Action == "mlflow.registered_model.rename" {
			return t(groupModel+from, groupModel+e.Subject)
		}
		return t(groupModel + e.Subject)
	case "model_version", "alias":
		name, _, ok := cutLast(e.Subject, "/")
		if !ok {
			name = e.Subject
		}
		if e.Action == "mlflow.alias.delete" {
			name = e.Subject
		}
		return t(groupModel + name)
	}
	return nil
}

// mavenGroup is "groupId:artifactId" of a Maven audit subject: a
// "g:a:v" or a file's path g/r/o/u/p/artifact/version/file.
func mavenGroup(subject string) string {
	if parts := strings.Split(subject, ":"); len(parts) >= 2 {
		return parts[0] + ":" + parts[1]
	}
	parts := strings.Split(strings.Trim(subject, "/"), "/")
	if len(parts) < 4 {
		return ""
	}
	return strings.Join(parts[:len(parts)-3], ".") + ":" + parts[len(parts)-3]
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
