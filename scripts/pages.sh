#!/bin/sh
# Load test of the cached pages against a hello-world server of the same
# body size, alternately (docs/PERFORMANCE.md, "Web pages"):
#   scripts/pages.sh BOTHSIDES_BINARY DB PATH [PAIRS]
# starts `bothsides serve` on DB and scripts/hello, then runs wrk (1 thread,
# 16 connections, 8 s) on PATH and on hello-world in turn, PAIRS times
# (default 3), printing one line per run: requests/s and p99. Set ACCEPT to
# send an Accept-Encoding header (ACCEPT=gzip).
set -eu
bin=$1 db=$2 path=$3 pairs=${4:-3}
dir=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
go build -o "$tmp/hello" "$dir/hello"
"$bin" --db "$db" serve --addr 127.0.0.1:8090 >"$tmp/serve.log" 2>&1 &
serve=$!
trap 'kill $serve $hello 2>/dev/null; rm -rf "$tmp"' EXIT
hdr=""
[ -n "${ACCEPT:-}" ] && hdr="Accept-Encoding: $ACCEPT"
for i in 1 2 3 4 5 6 7 8 9 10; do
	curl -fsS -o /dev/null http://127.0.0.1:8090/healthz 2>/dev/null && break
	sleep 0.5
done
size=$(curl -fsS ${hdr:+-H "$hdr"} http://127.0.0.1:8090"$path" | wc -c)
"$tmp/hello" -addr 127.0.0.1:8091 -size "$size" &
hello=$!
sleep 0.5
echo "page $path: $size bytes${ACCEPT:+ ($ACCEPT)}; $(uptime)"
run() {
	out=$(wrk -t1 -c16 -d8s --latency ${hdr:+-H "$hdr"} "$2")
	rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
	p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
	echo "$1 req/s $rps p99 $p99"
}
i=1
while [ $i -le "$pairs" ]; do
	run "pair $i page " "http://127.0.0.1:8090$path"
	run "pair $i hello" "http://127.0.0.1:8091/"
	i=$((i + 1))
done
