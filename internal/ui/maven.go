package ui

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// mavenData is the page of one artifact (groupId:artifactId) of a hosted
// Maven repository.
type mavenData struct {
	Repo       *repo.Repository
	Name       string
	GroupID    string
	ArtifactID string
	Files      []MavenFile
	Pager      *Pager
	Dependency string // the <dependency> of the newest deployed version
	Get        string // the mvn dependency:get command for it
}

// mavenArtifact shows one artifact's files, newest first.
func (h *Handler) mavenArtifact(w http.ResponseWriter, r *http.Request, rp *repo.Repository) error {
	ctx := r.Context()
	name := r.PathValue("pkg")
	g, a, ok := strings.Cut(name, ":")
	if !ok || rp.Kind != repo.Hosted {
		return errs.E(errs.NotFound, "There is no artifact %s in %s.", name, rp.Name)
	}
	pg := newPager(r, 50)
	files, err := h.mavenFiles(ctx, rp.ID, g, a, pg.Limit(), pg.Offset())
	if err != nil {
		return err
	}
	files = files[:pg.Keep(len(files))]
	if len(files) == 0 {
		return errs.E(errs.NotFound, "There is no artifact %s in %s.", name, rp.Name)
	}
	v := files[0].Version
	d := mavenData{Repo: rp, Name: name, GroupID: g, ArtifactID: a, Files: files, Pager: pg,
		Dependency: fmt.Sprintf("<dependency>\n  <groupId>%s</groupId>\n  <artifactId>%s</artifactId>\n  <version>%s</version>\n</dependency>", g, a, v),
		Get:        fmt.Sprintf("mvn dependency:get -Dartifact=%s:%s:%s", g, a, v)}
	return h.page(w, r, "maven_artifact", name, d)
}
