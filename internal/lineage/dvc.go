package lineage

import (
	"maps"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/arcaproject/arca/internal/errs"
)

// DVC: a remote (an S3 bucket or a raw repository) holds each tracked file
// under its md5 — files/md5/<2 hex>/<30 hex> since DVC 3.0, <2 hex>/<30
// hex> before — with ".dir" after the md5 of a directory's manifest. The
// .dvc files and dvc.lock, usually kept in git, name those md5s beside the
// paths they track; when one is uploaded to arca too, its links are read
// from it.

// maxDVCFile bounds the .dvc and dvc.lock files read.
const maxDVCFile = 1 << 20

// DVCObject returns the md5 that key stores when key is where a DVC
// remote keeps an object (any prefix, then <2 hex>/<30 hex>[.dir]).
func DVCObject(key string) (string, bool) {
	dir, file := path.Split(key)
	prefix := path.Base(strings.TrimSuffix(dir, "/"))
	md5 := prefix + strings.TrimSuffix(file, ".dir")
	if len(prefix) != 2 || !validMD5(md5) {
		return "", false
	}
	return prefix + file, true
}

// IsDVCFile reports whether key names a file DVC writes for git: a .dvc
// file or dvc.lock.
func IsDVCFile(key string) bool {
	base := path.Base(key)
	return base == "dvc.lock" || (strings.HasSuffix(base, ".dvc") && len(base) > len(".dvc"))
}

// DVCOutput is one path a .dvc file or a dvc.lock stage names, with its md5.
type DVCOutput struct {
	Path string `yaml:"path"`
	MD5  string `yaml:"md5"`
}

// DVCStage is one stage of dvc.lock: what it read and what it wrote. A
// .dvc file is read as one stage named "" with its deps (for imports) and
// outs.
type DVCStage struct {
	Name string
	Deps []DVCOutput
	Outs []DVCOutput
}

// ParseDVCFile reads a .dvc file (YAML: outs and deps, each with path
// and md5) or dvc.lock (schema 2.0: stages: {name: {deps, outs}}; the
// older one: the stages at the top level), by name. Entries without a
// valid md5 (other hash kinds, cloud etags) are left out.
func ParseDVCFile(name string, b []byte) ([]DVCStage, error) {
	if len(b) > maxDVCFile {
		return nil, errs.E(errs.TooLarge, "%s is larger than %d bytes", path.Base(name), maxDVCFile)
	}
	type stage struct {
		Deps []DVCOutput `yaml:"deps"`
		Outs []DVCOutput `yaml:"outs"`
	}
	var stages []DVCStage
	keep := func(name string, s stage) {
		st := DVCStage{Name: name, Deps: validOutputs(s.Deps), Outs: validOutputs(s.Outs)}
		if len(st.Deps)+len(st.Outs) > 0 {
			stages = append(stages, st)
		}
	}
	if path.Base(name) != "dvc.lock" {
		var s stage
		if err := yaml.Unmarshal(b, &s); err != nil {
			return nil, errs.Wrap(err, errs.Invalid, "not a .dvc file")
		}
		keep("", s)
		return stages, nil
	}
	var lock struct {
		Schema string           `yaml:"schema"`
		Stages map[string]stage `yaml:"stages"`
	}
	if err := yaml.Unmarshal(b, &lock); err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "not a dvc.lock file")
	}
	if lock.Schema == "" && lock.Stages == nil { // DVC 1: stages at the top
		var old map[string]stage
		if err := yaml.Unmarshal(b, &old); err != nil {
			return nil, errs.Wrap(err, errs.Invalid, "not a dvc.lock file")
		}
		lock.Stages = old
	}
	for _, name := range slices.Sorted(maps.Keys(lock.Stages)) {
		keep(name, lock.Stages[name])
	}
	return stages, nil
}

// validOutputs keeps the entries with an md5 (lowercased), at most 1000.
func validOutputs(in []DVCOutput) []DVCOutput {
	var out []DVCOutput
	for _, o := range in {
		m := strings.ToLower(o.MD5)
		if validMD5(strings.TrimSuffix(m, ".dir")) && len(out) < 1000 {
			out = append(out, DVCOutput{Path: o.Path, MD5: m})
		}
	}
	return out
}
