// Command ocibench measures an OCI distribution registry over HTTP: blob
// push and pull throughput for large and small blobs, and manifest put/get
// rates and latencies. It supports bench/oci.sh, which runs it against arca
// and the reference distribution registry side by side, and uses only the
// standard library.
//
//	ocibench run [flags]        benchmark one registry, print a table, write JSON
//	ocibench ref [flags]        Go SHA-256 and file-read speed on this machine, JSON
//	ocibench report [flags]     combine run and ref JSON files into a Markdown table
//	ocibench port               print a free loopback TCP port
//	ocibench sink [flags]       the minimal HTTP server `ref` measures (internal)
//
// Run `ocibench <command> -h` for the flags. Throughputs are in MB/s
// (10^6 bytes per second); sizes are in MiB (2^20 bytes).
//
// Every response is checked: status codes, Docker-Content-Digest headers on
// pushes and pulls, the length and the bytes of every pulled blob (compared
// with the copy the client sent, in memory) and of every manifest. A check
// that fails aborts the run, so a broken registry cannot look fast.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ocibench run|ref|report|port [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = cmdRun(os.Args[2:])
	case "ref":
		err = cmdRef(os.Args[2:])
	case "report":
		err = cmdReport(os.Args[2:])
	case "port":
		err = cmdPort()
	case "sink":
		err = cmdSink(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (want run, ref, report or port)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ocibench:", err)
		os.Exit(1)
	}
}
