package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/arcaproject/arca/internal/app"
	"github.com/arcaproject/arca/internal/search"
)

const searchUsage = `usage:
  arca search QUERY... --url URL [--format F] [--limit N] [--json] [--user U] [--token T]
      search a server: names, versions and descriptions of every format, or a
      digest (sha256:... or 12+ hex characters) for where that content is used.
      Words format:F, repo:R and kind:K in the query narrow it. The token is
      --token, else $ARCA_TOKEN, else what arca login stored for URL; none
      searches as anonymous (public repositories only). --url defaults to $ARCA_URL.
  arca search reindex [--repository NAME] [flags]
      rebuild the search index from the metadata database (safe while the
      server runs; flags as for arca gc)`

// runSearch is arca search: a query against a server's API, or the
// reindex maintenance command.
func runSearch(args []string, env Env) error {
	if len(args) > 0 && args[0] == "reindex" {
		var repository string
		return maintain("search reindex", args[1:], env, func(fs *flag.FlagSet) {
			fs.StringVar(&repository, "repository", "", "rebuild only this repository's part")
		}, func(ctx context.Context, a *app.App) error {
			start := time.Now()
			st, err := a.Search.Reindex(ctx, search.Target{Repository: repository, All: repository == ""})
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "indexed %d documents of %d repositories (%d ms)\n", st.Documents, st.Repositories, time.Since(start).Milliseconds())
			return nil
		})
	}
	fset := flag.NewFlagSet("search", flag.ContinueOnError)
	fset.SetOutput(env.Stderr)
	rawURL := fset.String("url", env.Getenv("ARCA_URL"), "arca's address")
	format := fset.String("format", "", "only this format (oci, pypi, npm, maven, go, helm, raw, s3, mlflow)")
	limit := fset.Int("limit", 20, "results per page (1-100)")
	asJSON := fset.Bool("json", false, "print the API's JSON answer")
	user := fset.String("user", "", "user or robot name (with --token)")
	token := fset.String("token", "", "API token")
	var words []string
	for rest := args; len(rest) > 0; {
		if err := fset.Parse(rest); err != nil {
			return usageError{err.Error()}
		}
		rest = fset.Args()
		if len(rest) > 0 {
			words, rest = append(words, rest[0]), rest[1:]
		}
	}
	if len(words) == 0 {
		return usageError{searchUsage}
	}
	u, err := parseServerURL(*rawURL)
	if err != nil {
		return err
	}
	if *token == "" {
		*token = env.Getenv("ARCA_TOKEN")
	}
	if *token == "" {
		if c, ok := loadCredential(env, u.String()); ok {
			*user, *token = c.User, c.Token
		}
	}
	q := url.Values{"q": {strings.Join(words, " ")}, "limit": {strconv.Itoa(*limit)}}
	if *format != "" {
		q.Set("format", *format)
	}
	req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(u.String(), "/")+"/api/v1/search?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	switch {
	case *token != "" && *user != "":
		req.SetBasicAuth(*user, *token)
	case *token != "":
		req.Header.Set("Authorization", "Bearer "+*token)
	}
	client := &http.Client{Timeout: time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("search: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	if *asJSON {
		_, err := env.Stdout.Write(body)
		return err
	}
	var page search.Page
	if err := json.Unmarshal(body, &page); err != nil {
		return fmt.Errorf("search: reading the answer: %w", err)
	}
	if len(page.Results) == 0 {
		fmt.Fprintln(env.Stderr, "no results")
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FORMAT\tREPOSITORY\tKIND\tNAME\tVERSION\tDETAIL")
	for _, r := range page.Results {
		detail := r.Summary
		if page.Digest != "" && len(r.Digests) > 0 {
			detail = strings.TrimSpace(r.Digests[0] + " " + detail)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Format, r.Repository, r.Kind, r.Name, r.Version, oneLine(detail, 80))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if page.NextCursor != "" {
		fmt.Fprintf(env.Stderr, "more results: GET /api/v1/search?%s&cursor=%s\n", q.Encode(), page.NextCursor)
	}
	return nil
}

// oneLine shortens s to n characters on one line.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
