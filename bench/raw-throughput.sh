#!/usr/bin/env bash
# Raw-format throughput benchmark (issue 2): uploads and downloads one large
# random file through arca's raw format and prints the throughput next to the
# machine's SHA-256 hashing throughput measured in the same run, on the same
# file. An upload hashes the bytes once (Go's crypto/sha256) while writing
# them to a staging file, fsyncs and renames, so Go's SHA-256 speed is the
# ceiling an upload should come close to.
#
# What it does, all in one temporary directory that is removed on exit:
#   1. builds arca and a small standard-library-only Go helper (written below)
#      with the toolchain the module selects;
#   2. writes a BENCH_SIZE_MB random file and reads it once to warm the page
#      cache;
#   3. measures, BENCH_RUNS times each: Go crypto/sha256 over the file (32 KiB
#      reads, as arca's io.Copy does), Go crypto/sha256 over memory, and
#      coreutils sha256sum, and a plain write + fsync of the file (dd);
#   4. unless BENCH_REFERENCE=0, PUTs the file to a minimal Go HTTP sink that
#      (a) discards the body, (b) only hashes it, (c) does exactly arca's
#      storage work (sha256 + staging file + fsync + rename) - the floor of
#      what HTTP and storage cost without arca's own code;
#   5. starts arca on a free loopback port with a fresh data directory, then
#      uploads the file BENCH_RUNS times (curl -T, a new path each time) and
#      downloads each upload (curl -o /dev/null), checking the digest arca
#      reports against the one computed locally;
#   6. prints machine information and a Markdown table of medians.
#
# The uploads carry identical bytes, so arca deduplicates them to one blob;
# each upload is still received, hashed, written, fsynced and renamed in
# full, so every run measures the whole upload path.
#
# Usage: bench/raw-throughput.sh
# Environment:
#   BENCH_SIZE_MB    file size in MiB (default 1024)
#   BENCH_RUNS       repetitions of each measurement (default 3)
#   BENCH_DIR        parent of the temporary directory (default $TMPDIR or
#                    /tmp); the test file and arca's data directory both live
#                    there, so they share one filesystem
#   BENCH_REFERENCE  1 (default) to also measure the HTTP sinks, 0 to skip
# Throughputs are in MB/s (10^6 bytes per second).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SIZE_MB="${BENCH_SIZE_MB:-1024}"
RUNS="${BENCH_RUNS:-3}"
REFERENCE="${BENCH_REFERENCE:-1}"
PARENT="${BENCH_DIR:-${TMPDIR:-/tmp}}"

die() { printf 'raw-throughput.sh: error: %s\n' "$*" >&2; exit 1; }
log() { printf '%s\n' "$*" >&2; }

[[ "$SIZE_MB" =~ ^[1-9][0-9]*$ ]] || die "BENCH_SIZE_MB must be a positive integer, not '$SIZE_MB'"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer, not '$RUNS'"
for tool in go curl awk head sort; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
mkdir -p "$PARENT"

WORK="$(mktemp -d "$PARENT/arca-bench.XXXXXX")"
ARCA_PID=""
SINK_PID=""
stop() { # stop PID: ends a process this script started and waits for it
    [[ -n "$1" ]] || return 0
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
cleanup() {
    local rc=$?
    stop "$ARCA_PID"
    stop "$SINK_PID"
    if [[ $rc -ne 0 && -s "$WORK/arca.log" ]]; then
        log "--- last lines of arca's log ---"
        tail -n 20 "$WORK/arca.log" >&2 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
# Helper program: free port, hashing speed, HTTP sinks. Standard library only.
mkdir -p "$WORK/helper"
cat >"$WORK/helper/main.go" <<'EOF'
// Command benchhelper supports bench/raw-throughput.sh.
//
//	benchhelper port                 print a free loopback TCP port
//	benchhelper hash FILE            sha256 FILE in 32 KiB reads: "seconds bytes hex"
//	benchhelper memhash MIB          sha256 MIB MiB held in memory: "seconds bytes"
//	benchhelper sink ADDR MODE DIR   serve PUT bodies; MODE is discard, sha256 or store
package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: benchhelper port|hash|memhash|sink ..."))
	}
	var err error
	switch os.Args[1] {
	case "port":
		err = port()
	case "hash":
		err = hashFile(os.Args[2])
	case "memhash":
		err = hashMemory(os.Args[2])
	case "sink":
		err = sink(os.Args[2], os.Args[3], os.Args[4])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "benchhelper:", err)
	os.Exit(1)
}

func port() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}

func hashFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 32<<10) // io.Copy's buffer size, what arca hashes with
	var n int64
	start := time.Now()
	for {
		m, err := f.Read(buf)
		h.Write(buf[:m])
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	sum := h.Sum(nil)
	fmt.Printf("%.6f %d %s\n", time.Since(start).Seconds(), n, hex.EncodeToString(sum))
	return nil
}

func hashMemory(mib string) error {
	total, err := strconv.ParseInt(mib, 10, 64)
	if err != nil {
		return err
	}
	total <<= 20
	buf := make([]byte, 64<<20)
	rand.Read(buf)
	h := sha256.New()
	start := time.Now()
	for left := total; left > 0; {
		chunk := buf
		if int64(len(chunk)) > left {
			chunk = chunk[:left]
		}
		h.Write(chunk)
		left -= int64(len(chunk))
	}
	h.Sum(nil)
	fmt.Printf("%.6f %d\n", time.Since(start).Seconds(), total)
	return nil
}

// sink accepts PUT bodies. discard reads and drops them; sha256 hashes them;
// store does what arca's upload must do: hash while writing a staging file,
// fsync it, rename it into place and fsync the directory.
func sink(addr, mode, dir string) error {
	handler := func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		var err error
		switch mode {
		case "discard":
			_, err = io.Copy(io.Discard, r.Body)
		case "sha256":
			_, err = io.Copy(h, r.Body)
		case "store":
			err = store(dir, h, r.Body)
		default:
			err = fmt.Errorf("unknown sink mode %q", mode)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintln(w, hex.EncodeToString(h.Sum(nil)))
	}
	return http.ListenAndServe(addr, http.HandlerFunc(handler))
}

func store(dir string, h io.Writer, body io.Reader) error {
	f, err := os.CreateTemp(dir, "staging-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := io.Copy(io.MultiWriter(f, h), body); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, "blob")); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
EOF

# ---------------------------------------------------------------------------
# Small arithmetic helpers (awk, so no bc is needed).
now() { date +%s.%N; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / s / 1e6 }'; } # bytes seconds
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
median() { # median of the arguments
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR % 2) printf "%.0f", v[(NR + 1) / 2]; else printf "%.0f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
joined() { local IFS=' '; echo "$*"; }

# ---------------------------------------------------------------------------
log "building arca and the helper in $WORK ..."
(cd "$ROOT" && go build -o "$WORK/arca" ./cmd/arca)
(cd "$ROOT" && go build -o "$WORK/benchhelper" "$WORK/helper/main.go")
GO_VERSION="$(cd "$ROOT" && go version)"
H="$WORK/benchhelper"

loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown; }
LOAD_START="$(loadavg)"

FILE="$WORK/payload.bin"
BYTES=$((SIZE_MB * 1024 * 1024))
log "writing a $SIZE_MB MiB random file ..."
head -c "$BYTES" /dev/urandom >"$FILE"
cat "$FILE" >/dev/null # warm the page cache
cat "$FILE" >/dev/null

log "measuring SHA-256 throughput ($RUNS runs each) ..."
GO_SHA=() MEM_SHA=() SUM_SHA=()
DIGEST=""
for ((i = 1; i <= RUNS; i++)); do
    out=$("$H" hash "$FILE")
    read -r secs n DIGEST <<<"$out"
    GO_SHA+=("$(mbps "$n" "$secs")")
    out=$("$H" memhash "$SIZE_MB")
    read -r secs n <<<"$out"
    MEM_SHA+=("$(mbps "$n" "$secs")")
    if command -v sha256sum >/dev/null 2>&1; then
        t0=$(now)
        sum=$(sha256sum "$FILE")
        t1=$(now)
        [[ "${sum%% *}" == "$DIGEST" ]] || die "sha256sum and Go disagree on the file's digest"
        SUM_SHA+=("$(mbps "$BYTES" "$(elapsed "$t0" "$t1")")")
    fi
done

log "measuring write + fsync of the file (dd conv=fsync, $RUNS runs) ..."
DD=()
if command -v dd >/dev/null 2>&1; then
    for ((i = 1; i <= RUNS; i++)); do
        sync
        t0=$(now)
        dd if="$FILE" of="$WORK/dd.bin" bs=1M conv=fsync status=none
        t1=$(now)
        DD+=("$(mbps "$BYTES" "$(elapsed "$t0" "$t1")")")
        rm -f "$WORK/dd.bin"
    done
fi

wait_ready() { # wait_ready URL PID NAME
    local deadline=$((SECONDS + 60))
    until curl -sf -o /dev/null "$1"; do
        kill -0 "$2" 2>/dev/null || die "$3 exited before it became ready"
        ((SECONDS < deadline)) || die "$3 did not become ready within 60s"
        sleep 0.1
    done
}

# put URL [curl args...]: PUTs the file once, prints "MB/s body".
put() {
    local url="$1" out
    shift
    out=$(curl -sS -f "$@" -T "$FILE" -o "$WORK/response" -w '%{http_code} %{time_total} %{size_upload}' "$url")
    read -r code secs n <<<"$out"
    [[ "$n" == "$BYTES" ]] || die "PUT $url sent $n bytes, not $BYTES"
    [[ "$code" == 200 || "$code" == 201 ]] || die "PUT $url answered HTTP $code"
    printf '%s %s\n' "$(mbps "$n" "$secs")" "$(tr -d '\n' <"$WORK/response")"
}

declare -A SINK
if [[ "$REFERENCE" != 0 ]]; then
    mkdir -p "$WORK/sink"
    for mode in discard sha256 store; do
        log "measuring PUT to a minimal Go sink ($mode, $RUNS runs) ..."
        port=$("$H" port)
        "$H" sink "127.0.0.1:$port" "$mode" "$WORK/sink" 2>>"$WORK/sink.log" &
        SINK_PID=$!
        wait_ready "http://127.0.0.1:$port/ready" "$SINK_PID" "the $mode sink"
        speeds=()
        for ((i = 1; i <= RUNS; i++)); do
            out=$(put "http://127.0.0.1:$port/run-$i")
            read -r speed body <<<"$out"
            [[ "$mode" == discard || "$body" == "$DIGEST" ]] || die "the $mode sink computed a wrong digest"
            speeds+=("$speed")
        done
        SINK[$mode]="$(median "${speeds[@]}") | $(joined "${speeds[@]}")"
        stop "$SINK_PID"
        SINK_PID=""
    done
    rm -rf "$WORK/sink"
fi

# ---------------------------------------------------------------------------
PORT=$("$H" port)
PASSWORD="bench-$RANDOM-$RANDOM-$RANDOM"
BASE="http://127.0.0.1:$PORT"
log "starting arca on $BASE ..."
env -u ARCA_CONFIG -u ARCA_DATABASE_URL -u ARCA_BLOB_DIR -u ARCA_MAX_UPLOAD_BYTES -u ARCA_PUBLIC_URL \
    ARCA_ADDR="127.0.0.1:$PORT" ARCA_S3_ADDR="127.0.0.1:$("$H" port)" \
    ARCA_DATA_DIR="$WORK/data" ARCA_ADMIN_PASSWORD="$PASSWORD" \
    "$WORK/arca" serve >"$WORK/arca.log" 2>&1 &
ARCA_PID=$!
wait_ready "$BASE/readyz" "$ARCA_PID" arca
AUTH=(-u "admin:$PASSWORD")
# Verifying a password costs an argon2id hash; arca caches a verified one for
# a while. An untimed request before each timed one keeps that cost (and the
# 100-continue round trip's first-request effects) out of the measurement.
warm() { curl -sS -f -o /dev/null "${AUTH[@]}" "$BASE/raw/files/"; }

STAMP="$(date +%s)-$$"
UP=()
for ((i = 1; i <= RUNS; i++)); do
    log "arca upload $i/$RUNS ..."
    warm || true # 404 until the first file exists; it still authenticates
    out=$(put "$BASE/raw/files/bench/$STAMP/run-$i.bin" "${AUTH[@]}")
    read -r speed body <<<"$out"
    [[ "$body" == *"sha256:$DIGEST"* ]] || die "arca reported a different digest: $body"
    UP+=("$speed")
done

DOWN=()
for ((i = 1; i <= RUNS; i++)); do
    log "arca download $i/$RUNS ..."
    warm
    out=$(curl -sS -f "${AUTH[@]}" -o /dev/null -w '%{http_code} %{time_total} %{size_download}' \
        "$BASE/raw/files/bench/$STAMP/run-$i.bin")
    read -r code secs n <<<"$out"
    [[ "$code" == 200 && "$n" == "$BYTES" ]] || die "download $i: HTTP $code, $n bytes"
    DOWN+=("$(mbps "$n" "$secs")")
done

# ---------------------------------------------------------------------------
GO_SHA_MED=$(median "${GO_SHA[@]}")
UP_MED=$(median "${UP[@]}")
CPU_MODEL="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
SHA_NI="no"
grep -qw sha_ni /proc/cpuinfo 2>/dev/null && SHA_NI="yes"
MEM="$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || true)"
FS="$(df -PT "$WORK" | awk 'NR == 2 { print $2 " on " $1 }')"

cat <<EOF

## Raw upload/download throughput

- date:       $(date -u '+%Y-%m-%d %H:%M UTC')
- machine:    $(nproc) CPUs, ${CPU_MODEL:-unknown CPU} (SHA extensions: $SHA_NI), ${MEM:-? GiB} RAM, $(uname -sr)
- go:         $GO_VERSION
- curl:       $(curl --version | head -n 1 | cut -d' ' -f1-2)
- filesystem: $FS (test file and arca data directory)
- load avg:   $LOAD_START at start, $(loadavg) at end (other work on the machine skews every figure)
- file:       $SIZE_MB MiB random, in page cache; $RUNS runs each; MB/s = 10^6 bytes/s

| measurement | MB/s (median) | runs |
|---|---:|---|
| SHA-256, Go crypto/sha256, file from page cache (32 KiB reads) | $GO_SHA_MED | $(joined "${GO_SHA[@]}") |
| SHA-256, Go crypto/sha256, in memory | $(median "${MEM_SHA[@]}") | $(joined "${MEM_SHA[@]}") |
EOF
if ((${#SUM_SHA[@]})); then
    echo "| SHA-256, coreutils sha256sum | $(median "${SUM_SHA[@]}") | $(joined "${SUM_SHA[@]}") |"
fi
if ((${#DD[@]})); then
    echo "| write + fsync of the file, dd bs=1M conv=fsync | $(median "${DD[@]}") | $(joined "${DD[@]}") |"
fi
if [[ "$REFERENCE" != 0 ]]; then
    echo "| PUT (curl -T) to a Go sink that discards the body | ${SINK[discard]} |"
    echo "| PUT to a Go sink that only hashes (sha256) | ${SINK[sha256]} |"
    echo "| PUT to a Go sink that hashes + writes + fsyncs + renames | ${SINK[store]} |"
fi
cat <<EOF
| **arca upload** (curl -T, PUT /raw/files/...) | **$UP_MED** | $(joined "${UP[@]}") |
| **arca download** (curl -o /dev/null) | **$(median "${DOWN[@]}")** | $(joined "${DOWN[@]}") |

upload / Go sha256 (file): $(awk -v u="$UP_MED" -v s="$GO_SHA_MED" 'BEGIN { printf "%.0f%%", 100 * u / s }')
EOF
