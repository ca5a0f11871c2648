package mlflow

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Validation of model registry input, with MLflow's limits and messages
// (mlflow/utils/validation.py).

// Limits of the model registry.
const (
	maxRegistryTagKey          = 250
	maxRegistryTagValue        = 100_000
	maxAliasLength             = 255
	defaultRegisteredModelPage = 100
	maxRegisteredModelPage     = 1000
	defaultModelVersionPage    = 200_000
	maxModelVersionPage        = 200_000
)

// aliasLatest is the alias that always means the highest version; no
// alias of that name (in any case) can be set.
const aliasLatest = "latest"

var (
	// registryTagKeyPattern is what a tag key may contain: letters and
	// digits of any script, and _ - . space / :.
	registryTagKeyPattern = regexp.MustCompile(`^[/\p{L}\p{N}_.\- :]*$`)
	// aliasPattern is what an alias may contain.
	aliasPattern = regexp.MustCompile(`^[\p{L}\p{N}_\-]*$`)
	// versionAliasPattern matches the reserved version aliases v1, V2, ...
	versionAliasPattern = regexp.MustCompile(`^[vV]\p{Nd}+$`)
)

// registryMissing is MLflow's error for a required field left out or empty.
func registryMissing(field string) error {
	return invalidParam("Missing value for required parameter '%s'. See the API docs for more information about request parameters.", field)
}

// registryInvalidValue is MLflow's error for a value that breaks a rule.
func registryInvalidValue(field, value, why string) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(value)
	return invalidParam("Invalid value %s for parameter '%s' supplied: %s", strings.TrimSpace(b.String()), field, why)
}

// validateModelName checks a registered model name: not blank, no '/' or
// ':', and not a name that a file system would read as another one ("."
// or starting with "..").
func validateModelName(name, field string) error {
	if strings.TrimSpace(name) == "" {
		return registryMissing(field)
	}
	if strings.ContainsAny(name, "/:") {
		return invalidParam("Invalid model name '%s'. Names cannot contain '/' or ':'.", name)
	}
	if err := checkNameResolvesToItself(name, field); err != nil {
		return err
	}
	return nil
}

// checkNameResolvesToItself refuses names that, read as relative paths,
// would name something else: empty, ".", "..", absolute, or with empty,
// "." or ".." segments.
func checkNameResolvesToItself(name, field string) error {
	norm := modelPathNorm(name)
	if norm != name || norm == "." || strings.HasPrefix(norm, "..") || strings.HasPrefix(norm, "/") {
		return registryInvalidValue(field, name, "Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '"+norm+"'")
	}
	return nil
}

// modelPathNorm normalises a slash-separated path the way POSIX path
// normalisation does (Python's posixpath.normpath): empty and "." segments
// go, ".." removes the segment before it where there is one, a leading
// "//" (exactly two) is kept, and the empty path is ".".
func modelPathNorm(p string) string {
	if p == "" {
		return "."
	}
	lead := 0
	if strings.HasPrefix(p, "/") {
		lead = 1
		if strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "///") {
			lead = 2
		}
	}
	var out []string
	for _, seg := range strings.Split(p, "/") {
		switch {
		case seg == "" || seg == ".":
			continue
		case seg != "..", lead == 0 && len(out) == 0, len(out) > 0 && out[len(out)-1] == "..":
			out = append(out, seg)
		case len(out) > 0:
			out = out[:len(out)-1]
		}
	}
	s := strings.Repeat("/", lead) + strings.Join(out, "/")
	if s == "" {
		return "."
	}
	return s
}

// validateRegistryTag checks a registered model or model version tag.
func validateRegistryTag(key, value string) error {
	if !registryTagKeyPattern.MatchString(key) {
		return registryInvalidValue("key", key, "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).")
	}
	if err := checkNameResolvesToItself(key, "key"); err != nil {
		return err
	}
	if utf8.RuneCountInString(key) > maxRegistryTagKey {
		return invalidParam("'key' exceeds the maximum length of %d characters", maxRegistryTagKey)
	}
	if utf8.RuneCountInString(value) > maxRegistryTagValue {
		return invalidParam("'value' exceeds the maximum length of %d characters", maxRegistryTagValue)
	}
	return nil
}

// validateTagKeyOnly checks the key of a tag being deleted.
func validateTagKeyOnly(key string) error {
	if !registryTagKeyPattern.MatchString(key) {
		return registryInvalidValue("key", key, "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).")
	}
	return checkNameResolvesToItself(key, "key")
}

// parseVersionNumber reads a version number.
func parseVersionNumber(v idText) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64)
	if err != nil {
		return 0, invalidParam("Parameter 'version' must be an integer, got '%s'.", string(v))
	}
	return n, nil
}

// validateAliasName checks an alias: letters, digits, '_' and '-', at most
// 255 characters.
func validateAliasName(alias string) error {
	if alias == "" {
		return invalidParam("Registered model alias name cannot be empty.")
	}
	if !aliasPattern.MatchString(alias) {
		return invalidParam("Invalid alias name: '%s'. Names may only contain alphanumerics, underscores (_), and dashes (-).", alias)
	}
	if utf8.RuneCountInString(alias) > maxAliasLength {
		return invalidParam("'Registered model alias name' exceeds the maximum length of %d characters", maxAliasLength)
	}
	return nil
}

// validateAliasSettable refuses the aliases that resolve by themselves:
// "latest" and v<number>.
func validateAliasSettable(alias string) error {
	if strings.EqualFold(alias, aliasLatest) {
		return invalidParam("'latest' alias name (case insensitive) is reserved.")
	}
	if versionAliasPattern.MatchString(alias) {
		return invalidParam("Version alias name '%s' is reserved.", alias)
	}
	return nil
}

// canonicalStage reads a stage name in any case and returns its canonical
// spelling.
func canonicalStage(s string) (string, error) {
	switch strings.ToLower(s) {
	case "none":
		return stageNone, nil
	case "staging":
		return stageStaging, nil
	case "production":
		return stageProduction, nil
	case "archived":
		return stageArchived, nil
	}
	return "", invalidParam("Invalid Model Version stage: %s. Value must be one of %s.", s, stageList)
}
