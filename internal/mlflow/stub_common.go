package mlflow

import "github.com/arcaproject/arca/internal/errs"

// errNotYet answers endpoints whose implementation has not landed. Delete
// this file when no stub_*.go file is left.
var errNotYet = errs.E(errs.Unsupported, "not implemented yet").WithCode(codeNotImplemented)
