#!/usr/bin/env bash
# Chunked OCI blob pushes (POST, one PATCH with the whole blob, PUT ?digest=,
# as docker and crane push layers) against two arca binaries side by side,
# in interleaved rounds: e.g. the current build against the build before a
# change to the write path.
#
#   bench/chunked-push-ab.sh OLD_BINARY NEW_BINARY
#
# Settings: BENCH_SIZE_MB (default 512), BENCH_RUNS (default 5), BENCH_DIR
# (parent of the data directories and the blob file; default /tmp).
# Prints the median seconds per push of each binary and the ratio new/old.
set -euo pipefail
old=${1:?usage: $0 OLD_BINARY NEW_BINARY} new=${2:?usage: $0 OLD_BINARY NEW_BINARY}
size=${BENCH_SIZE_MB:-512} runs=${BENCH_RUNS:-5}
work=$(mktemp -d "${BENCH_DIR:-/tmp}/arca-ab-XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
head -c $((size << 20)) /dev/urandom >"$work/blob"
digest=sha256:$(sha256sum "$work/blob" | cut -d' ' -f1)
start() { # name binary port
    mkdir -p "$work/$1"
    ARCA_DATA_DIR="$work/$1" ARCA_ADDR=127.0.0.1:$3 ARCA_S3_ADDR=127.0.0.1:$(($3 + 1)) ARCA_ADMIN_PASSWORD=bench-password \
        ARCA_LOG_LEVEL=warn "$2" serve >"$work/$1.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$3/readyz" >/dev/null && return; sleep 0.1; done
    echo "arca $1 did not start" >&2; exit 1
}
push() { # port -> seconds
    local base=http://127.0.0.1:$1 loc t0 t1
    loc=$(curl -fsS -u admin:bench-password -X POST -D - -o /dev/null "$base/v2/library/ab/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
    t0=$(date +%s.%N)
    loc=$(curl -fsS -u admin:bench-password -X PATCH -H 'Content-Type: application/octet-stream' --data-binary @"$work/blob" -D - -o /dev/null "$base$loc" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
    curl -fsS -u admin:bench-password -X PUT -o /dev/null "$base$loc?digest=$digest"
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc
}
start old "$old" 18181
start new "$new" 18281
median() { sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
: >"$work/old.t"; : >"$work/new.t"
for r in $(seq "$runs"); do
    if ((r % 2)); then push 18181 >>"$work/old.t"; push 18281 >>"$work/new.t"
    else push 18281 >>"$work/new.t"; push 18181 >>"$work/old.t"; fi
done
mo=$(median <"$work/old.t") mn=$(median <"$work/new.t")
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| binary | median s per %d MiB chunked push | MB/s |\n|---|---|---|\n' "$size"
printf '| old (%s) | %.3f | %.0f |\n' "$old" "$mo" "$(echo "$size * 1.048576 / $mo" | bc -l)"
printf '| new (%s) | %.3f | %.0f |\n' "$new" "$mn" "$(echo "$size * 1.048576 / $mn" | bc -l)"
printf 'new/old time: %.2f\n' "$(echo "$mn / $mo" | bc -l)"
