package importer

// The MLflow source's model registry: registered models, their versions,
// aliases, stages and tags, pointing at the imported runs.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/mlflow"
)

// registry imports registered models with their versions and aliases.
func (im *mlflowImport) registry(ctx context.Context) error {
	models, err := im.c.registeredModels(ctx)
	if err != nil {
		return fmt.Errorf("listing the source's registered models: %w", err)
	}
	for _, m := range models {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := im.registeredModel(ctx, m); err != nil {
			im.r.Fail("registered-model", m.Name, err)
		}
	}
	return nil
}

func (im *mlflowImport) registeredModel(ctx context.Context, m mlflow.RegisteredModel) error {
	versions, err := im.c.modelVersions(ctx, m.Name)
	if err != nil {
		return fmt.Errorf("listing versions: %w", err)
	}
	sort.Slice(versions, func(i, j int) bool { return versionNumber(versions[i].Version) < versionNumber(versions[j].Version) })
	if im.opts.DryRun {
		im.r.Planned("registered-model", m.Name, 0)
		for _, v := range versions {
			if _, ok, err := im.dst.VersionSource(ctx, m.Name, versionNumber(v.Version)); err != nil {
				return err
			} else if ok {
				im.r.Skipped("model-version", m.Name+"/"+v.Version, 0)
			} else {
				im.r.Planned("model-version", m.Name+"/"+v.Version, 0)
			}
		}
		return nil
	}
	created, err := im.dst.RegisteredModel(ctx, m.Name, m.Description, int64(m.CreationTimestamp), int64(m.LastUpdatedTimestamp), m.Tags)
	if err != nil {
		return err
	}
	if created {
		im.r.Imported("registered-model", m.Name, 0)
	} else {
		im.r.Skipped("registered-model", m.Name, 0)
	}
	numbers := map[string]int64{} // source version → arca's
	for _, v := range versions {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := im.version(ctx, v)
		if err != nil {
			im.r.Fail("model-version", m.Name+"/"+v.Version, err)
			continue
		}
		numbers[v.Version] = n
	}
	for _, a := range m.Aliases {
		n, ok := numbers[a.Version]
		if !ok {
			continue
		}
		if err := im.dst.Alias(ctx, m.Name, a.Alias, n); err != nil {
			return fmt.Errorf("alias %s: %w", a.Alias, err)
		}
	}
	return nil
}

func versionNumber(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// version imports one model version under its number, or, when arca's
// model has another version of that number, under the next free one.
func (im *mlflowImport) version(ctx context.Context, v mlflow.ModelVersion) (int64, error) {
	name := v.Name + "/" + v.Version
	num := versionNumber(v.Version)
	if num <= 0 {
		return 0, fmt.Errorf("version %q is not a number", v.Version)
	}
	source := im.rewriteSource(v.Source)
	have, ok, err := im.dst.VersionSource(ctx, v.Name, num)
	if err != nil {
		return 0, err
	}
	tags := v.Tags
	if ok {
		if have == source {
			im.r.Skipped("model-version", name, 0)
			return num, nil
		}
		mapped, err := im.dst.VersionByTag(ctx, v.Name, SourceVersionTag, v.Version)
		if err != nil {
			return 0, err
		}
		if mapped != 0 {
			im.r.Skipped("model-version", name, 0)
			return mapped, nil
		}
		if num, err = im.dst.NextVersion(ctx, v.Name); err != nil {
			return 0, err
		}
		tags = append(append([]mlflow.ModelVersionTag{}, tags...), mlflow.ModelVersionTag{Key: SourceVersionTag, Value: v.Version})
		im.r.Map("model-version", name, v.Name+"/"+strconv.FormatInt(num, 10))
	}
	storage := ""
	if uri, err := im.c.downloadURI(ctx, v.Name, v.Version); err == nil {
		storage = im.rewriteURI(uri)
	} else if !isStatus(err, http.StatusNotFound) {
		var ae *apiError
		if !errors.As(err, &ae) {
			return 0, err
		}
	}
	if storage == "" {
		storage = im.runsURI(ctx, source)
	}
	runID := v.RunID
	if runID != "" {
		im.mu.Lock()
		if to, ok := im.runs[runID]; ok {
			runID = to
		}
		im.mu.Unlock()
	}
	modelID := v.ModelID
	if modelID != "" {
		modelID = im.modelID(modelID)
	}
	err = im.dst.ModelVersion(ctx, mlflow.ImportedVersion{Model: v.Name, Version: num, Description: v.Description, UserID: v.UserID,
		Stage: v.CurrentStage, Source: source, StorageLocation: storage, RunID: runID, RunLink: v.RunLink, LoggedModelID: modelID,
		Status: v.Status, StatusMessage: v.StatusMessage, Created: int64(v.CreationTimestamp), Updated: int64(v.LastUpdatedTimestamp), Tags: tags})
	if err != nil {
		return 0, err
	}
	im.r.Imported("model-version", name, 0)
	return num, nil
}

// runsURI resolves a runs:/<id>/<path> source to arca's artifact URI of
// the run (what get-download-uri answers), or "".
func (im *mlflowImport) runsURI(ctx context.Context, source string) string {
	rest, ok := strings.CutPrefix(source, "runs:/")
	if !ok {
		return ""
	}
	id, path, _ := strings.Cut(rest, "/")
	st, err := im.dst.Run(ctx, id)
	if err != nil || !st.Exists {
		return ""
	}
	if path == "" {
		return st.ArtifactURI
	}
	return strings.TrimSuffix(st.ArtifactURI, "/") + "/" + path
}
