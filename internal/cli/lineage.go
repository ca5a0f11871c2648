package cli

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/httpx"
)

const lineageUsage = `usage: arca lineage <ref> --url URL [--depth N] [--direction up|down|both] [--json]
                    [--token TOKEN | --token-stdin]

Shows what an artifact was made from (up) and what was made from it (down),
as the server's GET /api/v1/lineage answers it for you. A ref is one of
  oci:<repo>/<image>:<tag>  oci:<repo>/<image>@sha256:<hex>
  model:<name>/<version>    mlflow-run:<run id>   logged-model:m-<id>
  dataset:<digest>          s3:<bucket>/<key>     raw:<repo>/<path>   dvc-md5:<md5>
The token is --token, else $ARCA_TOKEN, else what arca login stored for URL;
without one you see what anonymous users may. Artifacts you may not read
show as hidden-N.`

// lineageGraph is the API's answer.
type lineageGraph struct {
	Root      string   `json:"root"`
	Direction string   `json:"direction"`
	Depth     int      `json:"depth"`
	Truncated bool     `json:"truncated"`
	Notes     []string `json:"notes"`
	Nodes     []struct {
		ID     string `json:"id"`
		Hidden bool   `json:"hidden"`
		Kind   string `json:"kind"`
	} `json:"nodes"`
	Edges []struct {
		From     string `json:"from"`
		To       string `json:"to"`
		Relation string `json:"relation"`
	} `json:"edges"`
}

// lineageCommand runs arca lineage.
func lineageCommand(args []string, env Env) error {
	fset := flag.NewFlagSet("lineage", flag.ContinueOnError)
	fset.SetOutput(env.Stderr)
	var rawURL, token, direction string
	var depth int
	var tokenStdin, asJSON bool
	fset.StringVar(&rawURL, "url", "", "arca's address")
	fset.StringVar(&token, "token", "", "API token")
	fset.BoolVar(&tokenStdin, "token-stdin", false, "read the token from standard input")
	fset.IntVar(&depth, "depth", 3, "links to follow each way (at most 10)")
	fset.StringVar(&direction, "direction", "both", "up, down or both")
	fset.BoolVar(&asJSON, "json", false, "print the server's JSON")
	var pos []string
	for rest := args; len(rest) > 0; {
		if err := fset.Parse(rest); err != nil {
			return usageError{err.Error()}
		}
		rest = fset.Args()
		if len(rest) > 0 {
			pos, rest = append(pos, rest[0]), rest[1:]
		}
	}
	if len(pos) != 1 {
		return usageError{lineageUsage}
	}
	u, err := parseServerURL(rawURL)
	if err != nil {
		return err
	}
	if tokenStdin {
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return usageError{"nothing to read on standard input"}
		}
		token = strings.TrimSpace(line)
	}
	if token == "" {
		token = env.Getenv("ARCA_TOKEN")
	}
	if token == "" {
		if c, ok := loadCredential(env, u.String()); ok {
			token = c.Token
		}
	}
	q := url.Values{"artifact": {pos[0]}, "depth": {strconv.Itoa(depth)}, "direction": {direction}}
	req, err := http.NewRequest(http.MethodGet, strings.TrimRight(u.String(), "/")+"/api/v1/lineage?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e httpx.JSONError
		if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
			return fmt.Errorf("%s: %s", resp.Status, e.Error.Message)
		}
		return fmt.Errorf("%s", resp.Status)
	}
	if asJSON {
		_, err := env.Stdout.Write(body)
		return err
	}
	var g lineageGraph
	if err := json.Unmarshal(body, &g); err != nil {
		return fmt.Errorf("the server's answer is not a lineage graph: %w", err)
	}
	printLineage(env.Stdout, &g)
	return nil
}

// printLineage writes the graph as its artifacts, then its links.
func printLineage(w io.Writer, g *lineageGraph) {
	fmt.Fprintf(w, "%s (%s, depth %d)\n", g.Root, g.Direction, g.Depth)
	fmt.Fprintf(w, "artifacts (%d):\n", len(g.Nodes))
	for _, n := range g.Nodes {
		switch {
		case n.Hidden:
			fmt.Fprintf(w, "  %s  (hidden: you may not read it)\n", n.ID)
		case n.ID == g.Root:
			fmt.Fprintf(w, "  %s  (root)\n", n.ID)
		default:
			fmt.Fprintf(w, "  %s\n", n.ID)
		}
	}
	fmt.Fprintf(w, "links (%d):\n", len(g.Edges))
	for _, e := range g.Edges {
		fmt.Fprintf(w, "  %s --%s--> %s\n", e.From, e.Relation, e.To)
	}
	if g.Truncated {
		fmt.Fprintf(w, "truncated: %s\n", strings.Join(g.Notes, "; "))
	}
}
