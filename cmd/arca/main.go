// Command arca is one server for container images, packages, ML
// experiments, datasets and S3 objects.
package main

import (
	"os"

	"github.com/arcaproject/arca/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}))
}
