#!/usr/bin/env bash
# Maven proxy benchmark (issue 15): the time of `mvn dependency:resolve` of
# a project with about 100 dependencies (Spring Boot web, actuator,
# validation and test starters, Guava, commons-lang3, httpclient5) through
# an arca proxy that already caches them ("warm") against the same command
# against the upstream repository directly, in the same run.
#
# The upstream is the repository this machine's mvn uses: a mirror of "*"
# or "central" in ~/.m2/settings.xml, or else the central repository of
# Maven's super POM (read from Maven's own maven-model-builder jar).
#
# What it does, in one temporary directory removed on exit:
#   1. builds arca and starts it (SQLite, filesystem blobs) on a free
#      loopback port, and creates a proxy repository of the upstream;
#   2. resolves the project once through arca to fill its cache;
#   3. BENCH_ROUNDS times (ABBA order), resolves the project with an empty
#      local repository (plugins included) through arca and directly;
#   4. prints the machine, the artifact count and a Markdown table of
#      medians with the ratio.
#
# Usage: bench/maven.sh          Environment: BENCH_ROUNDS (3), BENCH_DIR
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${BENCH_ROUNDS:-3}"
PARENT="${BENCH_DIR:-${TMPDIR:-/tmp}}"
die() { printf 'maven.sh: error: %s\n' "$*" >&2; exit 1; }
log() { printf '%s\n' "$*" >&2; }
for tool in go curl mvn python3 unzip; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done

upstream() {
    local s="$HOME/.m2/settings.xml"
    if [[ -f "$s" ]]; then
        python3 - "$s" <<'PY' && return 0
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
for m in root.iter(ns + "mirror"):
    of = (m.findtext(ns + "mirrorOf") or "").strip()
    if of == "*" or "central" in of:
        print(m.findtext(ns + "url").strip()); sys.exit(0)
sys.exit(1)
PY
    fi
    local home jar
    home="$(mvn -B --version 2>/dev/null | sed -n 's/^Maven home: //p')"
    jar="$(ls "$home"/lib/maven-model-builder*.jar | head -1)"
    unzip -p "$jar" org/apache/maven/model/pom-4.0.0.xml | python3 -c '
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.read()); ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
for r in root.iter(ns + "repository"):
    if r.findtext(ns + "id") == "central": print(r.findtext(ns + "url").strip())'
}
UPSTREAM="$(upstream)"
[[ -n "$UPSTREAM" ]] || die "no Maven repository configured for mvn"
UPSTREAM="${UPSTREAM%/}/"

mkdir -p "$PARENT"
WORK="$(mktemp -d "$PARENT/arca-mavenbench.XXXXXX")"
ARCA_PID=""
cleanup() {
    [[ -n "$ARCA_PID" ]] && { kill "$ARCA_PID" 2>/dev/null || true; wait "$ARCA_PID" 2>/dev/null || true; }
    rm -rf "$WORK"
}
trap cleanup EXIT

log "building arca"
(cd "$ROOT" && go build -o "$WORK/arca" ./cmd/arca)
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
S3PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
PW="bench-admin-password-1"
ARCA_DATA_DIR="$WORK/data" ARCA_ADDR="127.0.0.1:$PORT" ARCA_S3_ADDR="127.0.0.1:$S3PORT" ARCA_ADMIN_PASSWORD="$PW" \
    "$WORK/arca" serve >"$WORK/arca.log" 2>&1 &
ARCA_PID=$!
URL="http://127.0.0.1:$PORT"
for _ in $(seq 100); do curl -fs "$URL/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "$URL/readyz" >/dev/null || die "arca did not start: $(tail -5 "$WORK/arca.log")"
curl -fsS -u "admin:$PW" -X POST "$URL/api/v1/repositories" -o /dev/null \
    -d "{\"name\":\"maven-up\",\"format\":\"maven\",\"kind\":\"proxy\",\"settings\":{\"upstream\":{\"url\":\"$UPSTREAM\"}}}"

settings() { # settings FILE URL: a mirror of everything at URL
    cat >"$1" <<XML
<settings>
  <servers><server><id>bench</id><username>admin</username><password>$PW</password></server></servers>
  <mirrors><mirror><id>bench</id><mirrorOf>*</mirrorOf><url>$2</url></mirror></mirrors>
</settings>
XML
}
settings "$WORK/arca.xml" "$URL/maven/maven-up/"
settings "$WORK/direct.xml" "$UPSTREAM"

mkdir -p "$WORK/project"
dep() { printf '    <dependency><groupId>%s</groupId><artifactId>%s</artifactId><version>%s</version>%s</dependency>\n' "$@"; }
{
    printf '<project xmlns="http://maven.apache.org/POM/4.0.0">\n  <modelVersion>4.0.0</modelVersion>\n'
    printf '  <groupId>bench</groupId><artifactId>bench</artifactId><version>1</version>\n  <dependencies>\n'
    for s in web actuator validation; do dep org.springframework.boot "spring-boot-starter-$s" 4.0.7 ""; done
    dep org.springframework.boot spring-boot-starter-test 4.0.7 "<scope>test</scope>"
    dep com.google.guava guava 33.5.0-jre ""
    dep org.apache.commons commons-lang3 3.17.0 ""
    dep org.apache.httpcomponents.client5 httpclient5 5.4.4 ""
    printf '  </dependencies>\n</project>\n'
} >"$WORK/project/pom.xml"

GOAL="org.apache.maven.plugins:maven-dependency-plugin:3.8.1:resolve"
resolve() { # resolve SETTINGS: seconds of one resolution with an empty local repository
    rm -rf "$WORK/m2"
    local t0 t1
    t0="$(date +%s.%N)"
    (cd "$WORK/project" && mvn -B -q -ntp -s "$1" -Dmaven.repo.local="$WORK/m2" "$GOAL" -DoutputFile="$WORK/resolved.txt" >"$WORK/mvn.log" 2>&1) ||
        die "mvn failed with $1: $(tail -20 "$WORK/mvn.log")"
    t1="$(date +%s.%N)"
    python3 -c "print(f'{$t1 - $t0:.1f}')"
}

log "warming arca's cache"
resolve "$WORK/arca.xml" >/dev/null
COUNT="$(grep -c ':.*:.*:' "$WORK/resolved.txt" || true)"
FILES="$(find "$WORK/m2" -type f \( -name '*.jar' -o -name '*.pom' \) | wc -l)"
arca=() direct=()
for r in $(seq "$ROUNDS"); do
    if ((r % 2)); then
        arca+=("$(resolve "$WORK/arca.xml")"); direct+=("$(resolve "$WORK/direct.xml")")
    else
        direct+=("$(resolve "$WORK/direct.xml")"); arca+=("$(resolve "$WORK/arca.xml")")
    fi
    log "round $r: arca ${arca[-1]} s, direct ${direct[-1]} s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
A="$(median "${arca[@]}")"; D="$(median "${direct[@]}")"
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- software: $(mvn -B --version 2>/dev/null | sed -n '1s/\x1b\[[0-9;]*m//gp'); $(java -version 2>&1 | head -1); $(go version | cut -d' ' -f3)"
echo "- project: $COUNT resolved dependencies ($FILES jar and pom files in the local repository, plugins included)"
echo
echo "| mvn dependency:resolve, empty local repository | arca proxy (warm) | upstream directly | arca / upstream |"
echo "|---|---:|---:|---:|"
printf '| median of %d, seconds (runs: arca %s; upstream %s) | %.2f | %.2f | %.2f |\n' "$ROUNDS" "${arca[*]}" "${direct[*]}" "$A" "$D" "$(python3 -c "print($A/$D)")"
