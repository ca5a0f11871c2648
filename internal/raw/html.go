package raw

import (
	"html/template"
	"net/http"
	"strings"
	"time"
)

var listingPage = template.Must(template.New("listing").Funcs(template.FuncMap{
	"time": func(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05Z") },
	"parent": func(p string) string {
		p = strings.TrimSuffix(p, "/")
		if i := strings.LastIndex(p, "/"); i >= 0 {
			return p[:i+1]
		}
		return ""
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Repository}}/{{.Path}} — arca</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem}table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #ddd}td.n{text-align:right;font-variant-numeric:tabular-nums}code{font-size:85%}</style>
</head><body><main>
<h1>{{.Repository}}/{{.Path}}</h1>
<table><thead><tr><th scope="col">Name</th><th scope="col">Size</th><th scope="col">Modified</th><th scope="col">SHA-256</th></tr></thead><tbody>
{{if .Path}}<tr><td><a href="/raw/{{.Repository}}/{{parent .Path}}">../</a></td><td></td><td></td><td></td></tr>{{end}}
{{range .Entries}}<tr>{{if eq .Type "directory"}}<td><a href="/raw/{{$.Repository}}/{{.Path}}">{{.Name}}/</a></td><td></td><td></td><td></td>
{{else}}<td><a href="/raw/{{$.Repository}}/{{.Path}}">{{.Name}}</a></td><td class="n">{{.Size}}</td><td>{{time .Modified}}</td><td><code>{{slice .Digest 7 19}}…</code></td>{{end}}</tr>
{{end}}</tbody></table>
{{if .Next}}<p><a href="?after={{.Next}}">Next page</a></p>{{end}}
</main></body></html>
`))

func writeHTMLListing(w http.ResponseWriter, l listingResponse) error {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	return listingPage.Execute(w, l)
}
