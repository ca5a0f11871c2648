package cli

import (
	"fmt"
	"io"
	"strings"
)

// firstStart is what the banner of a first start shows.
type firstStart struct {
	URL     string // the main listener, as this machine reaches it
	S3URL   string // the S3 listener
	DataDir string
	// Database is "" for SQLite in the data directory, else a redacted URL.
	Database string
	// PasswordShown says the admin's password was generated and printed
	// above; otherwise it is the configured one (ARCA_ADMIN_PASSWORD).
	PasswordShown bool
	// S3KeysShown says an S3 key pair was generated and printed above.
	S3KeysShown bool

	showBanner bool // this start created the admin: a first start
}

// printBanner writes the first start's banner: where everything is, who to
// sign in as, and the first commands to try. The structured "listening"
// log lines stay, for machines; this is for the person at the terminal.
func printBanner(w io.Writer, f firstStart) {
	host := strings.TrimPrefix(strings.TrimPrefix(f.URL, "http://"), "https://")
	password := "the one in ARCA_ADMIN_PASSWORD (admin_password)"
	if f.PasswordShown {
		password = "printed above, shown only once"
	}
	s3keys := "create a key pair with `arca admin s3key create admin`"
	if f.S3KeysShown {
		s3keys = "key pair printed above"
	}
	data := f.DataDir + " (database and blobs)"
	if f.Database != "" {
		data = f.DataDir + " (blobs); database " + f.Database
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n  arca is ready.\n\n")
	fmt.Fprintf(&b, "    Web UI     %s/   sign in as \"admin\"; password: %s\n", f.URL, password)
	fmt.Fprintf(&b, "    Registry   %s   (docker, crane, oras, helm)\n", host)
	fmt.Fprintf(&b, "    Packages   %s/pypi/pypi-hosted/simple/   %s/npm/npm-hosted/   %s/maven/maven-hosted/\n", f.URL, f.URL, f.URL)
	fmt.Fprintf(&b, "    MLflow     MLFLOW_TRACKING_URI=%s/mlflow\n", f.URL)
	if f.S3URL != "" {
		fmt.Fprintf(&b, "    S3         %s   (%s)\n", f.S3URL, s3keys)
	}
	fmt.Fprintf(&b, "    Data       %s\n\n", data)
	fmt.Fprintf(&b, "  Try:\n")
	fmt.Fprintf(&b, "    crane auth login %s -u admin -p PASSWORD --insecure && crane copy alpine:3 %s/library/alpine:3 --insecure\n", host, host)
	fmt.Fprintf(&b, "    arca configure pip --url %s --user admin --token TOKEN   (tokens: the web UI, or `arca admin token create admin`)\n", f.URL)
	fmt.Fprintf(&b, "    MLFLOW_TRACKING_URI=%s/mlflow MLFLOW_TRACKING_USERNAME=admin MLFLOW_TRACKING_PASSWORD=PASSWORD python train.py\n\n", f.URL)
	io.WriteString(w, b.String())
}
