package ui

import "net/http"

// loginPath is the sign-in page; anonymous visitors of private pages are
// sent there with ?next=<where they were going>.
const loginPath = "/ui/login"

// Routes registers the UI, readable top to bottom: pattern, who may come
// (anyone, signedIn, admins; see handle), handler. A page is one handler
// file, one template in templates/pages and one line here.
func (h *Handler) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /ui/static/{file...}", errless(h.static)) // embedded CSS, scripts, icons
	mux.HandleFunc("GET /favicon.ico", errless(h.favicon))

	h.handle(mux, "GET /{$}", signedIn, h.dashboard)             // storage, counts, recent activity
	h.handle(mux, "GET "+loginPath, anyone, h.loginForm)         // sign in
	h.handle(mux, "POST "+loginPath, anyone, h.login)            //
	h.handle(mux, "POST /ui/logout", signedIn, h.logout)         // sign out
	h.handle(mux, "GET /ui/sso/login", anyone, h.ssoLogin)       // OIDC: to the provider
	h.handle(mux, "GET /ui/sso/callback", anyone, h.ssoCallback) // OIDC: back from it
	h.handle(mux, "GET /ui/account", signedIn, h.account)        // own tokens and S3 keys
	h.handle(mux, "POST /ui/account/tokens", signedIn, h.createToken)
	h.handle(mux, "POST /ui/account/tokens/revoke", signedIn, h.revokeToken)
	h.handle(mux, "POST /ui/account/s3keys", signedIn, h.createS3Key)
	h.handle(mux, "POST /ui/account/s3keys/revoke", signedIn, h.revokeS3Key)
	h.handle(mux, "POST /ui/account/password", signedIn, h.changePassword)

	h.handle(mux, "GET /ui/repositories", anyone, h.repositories)                                  // list, filter by format and kind
	h.handle(mux, "GET /ui/repositories/{repo}", anyone, h.repository)                             // usage snippets and contents
	h.handle(mux, "GET /ui/repositories/{repo}/images/{image...}", anyone, h.image)                // OCI: tags of an image
	h.handle(mux, "GET /ui/repositories/{repo}/manifests/{digest}/{image...}", anyone, h.manifest) // OCI: one manifest
	h.handle(mux, "GET /ui/repositories/{repo}/packages/{pkg...}", anyone, h.pkg)                  // PyPI and npm: one package
	h.handle(mux, "GET /ui/repositories/{repo}/download", anyone, h.download)                      // raw files and S3 objects (?path=)

	h.handle(mux, "GET /ui/experiments", anyone, h.experiments)                   // MLflow: experiments, search by name
	h.handle(mux, "GET /ui/experiments/{id}", anyone, h.experiment)               // runs: sort, filter, columns, select to compare
	h.handle(mux, "GET /ui/experiments/{id}/runs/{run}", anyone, h.mlflowRunPath) // MLflow's own path shapes for a run
	h.handle(mux, "GET /ui/runs/{run}", anyone, h.run)                            // one run: params, metric charts, artifacts, models
	h.handle(mux, "GET /ui/runs/{run}/artifacts", anyone, h.runArtifacts)         // a folder of a run's or logged model's artifacts
	h.handle(mux, "GET /ui/runs/{run}/artifacts/file", anyone, h.runArtifact)     // download one (?path=)
	h.handle(mux, "GET /ui/compare", anyone, h.compareRuns)                       // several runs on one chart, params diff
	h.handle(mux, "GET /ui/models", anyone, h.models)                             // registered models, search by name
	h.handle(mux, "GET /ui/models/{name}", anyone, h.model)                       // versions, aliases, stages of one
	h.handle(mux, "GET /ui/models/{name}/versions/{version}", anyone, h.mlflowModelVersionPath)

	h.handle(mux, "GET /ui/storage", signedIn, h.storagePage) // bytes per repository (readable), owner, format; history charts
	h.handle(mux, "GET /ui/lineage", anyone, h.lineagePage)   // what an artifact was made from and what was made from it (?artifact=<ref>)
	h.handle(mux, "GET /ui/search", anyone, h.searchPage)     // everything the visitor may read, by name or digest

	h.handle(mux, "GET /ui/security", signedIn, h.security)                    // vulnerability findings, worst first (?repository=)
	h.handle(mux, "GET /ui/security/reports/{id}", signedIn, h.securityReport) // one artifact's report
	h.handle(mux, "GET /ui/security/report", signedIn, h.artifactReport)       // an artifact's current report (?repository=&name=&ref=)
	h.handle(mux, "POST /ui/security/scan", signedIn, h.scanNow)               // scan a repository or an artifact now

	h.handle(mux, "GET /ui/admin", admins, h.adminHome)
	h.handle(mux, "GET /ui/admin/users", admins, h.users)              // people and robots
	h.handle(mux, "POST /ui/admin/users", admins, h.createUser)        //
	h.handle(mux, "POST /ui/admin/users/{user}", admins, h.updateUser) // role, disable, password
	h.handle(mux, "POST /ui/admin/users/{user}/delete", admins, h.deleteUser)
	h.handle(mux, "GET /ui/admin/repositories/new", admins, h.newRepository)
	h.handle(mux, "POST /ui/admin/repositories", admins, h.createRepository)
	h.handle(mux, "GET /ui/admin/repositories/{repo}", admins, h.editRepository)
	h.handle(mux, "POST /ui/admin/repositories/{repo}", admins, h.updateRepository)
	h.handle(mux, "POST /ui/admin/repositories/{repo}/roles", admins, h.grantRole)
	h.handle(mux, "POST /ui/admin/repositories/{repo}/delete", admins, h.deleteRepository)
	h.handle(mux, "GET /ui/admin/gc", admins, h.gcPage)                                 // garbage collection
	h.handle(mux, "POST /ui/admin/gc", admins, h.runGC)                                 //
	h.handle(mux, "GET /ui/admin/audit", admins, h.audit)                               // audit trail
	h.handle(mux, "GET /ui/admin/webhooks", admins, h.globalWebhooks)                   // global webhooks, recent deliveries
	h.handle(mux, "GET /ui/repositories/{repo}/webhooks", signedIn, h.repoWebhooks)     // a repository's (its admins)
	h.handle(mux, "POST /ui/webhooks", signedIn, h.createWebhook)                       // add one (form names the repository)
	h.handle(mux, "POST /ui/webhooks/{id}/{action}", signedIn, h.webhookAction)         // ping, delete, redeliver
	h.handle(mux, "GET /ui/admin/scanners", admins, h.scannersPage)                     // external scanners (Pluggable Scanner API)
	h.handle(mux, "POST /ui/admin/scanners", admins, h.createScanner)                   // register one
	h.handle(mux, "POST /ui/admin/scanners/{name}/{action}", admins, h.scannerAction)   // enable, disable, delete
	h.handle(mux, "GET /ui/admin/replication", admins, h.replication)                   // policies and their runs
	h.handle(mux, "GET /ui/admin/replication/runs/{run}", admins, h.replicationRunPage) // one run's items

	h.handle(mux, "/ui/", anyone, h.notFound)
}

// errless adapts a handler that cannot fail.
func errless(fn func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { fn(w, r) }
}
