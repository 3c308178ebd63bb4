#!/usr/bin/env bash
# Query benchmark of issue 17: starts a fresh Strata node (1 meta + 1 data)
# and an InfluxDB 1.x (INFLUXD, default /work/bin/influxd) on free loopback
# ports, loads the same file into both with `strata bench`, then times
# TSBS's cpu-only queries against both in the same run with
# `strata bench --queries` (2 workers, as TSBS's runner).
#
#   scripts/bench-queries.sh [strata bench query flags...]
#   scripts/bench-queries.sh --queries high-cpu-1,lastpoint --query-count 200
#   scripts/bench-queries.sh --queries all --mixed --workers 32 --query-count 20
#
# FILE (default ../shared/data/tsbs-cpu-only-s100-1d.lp.gz) is the data;
# HOSTS and DURATION describe it (default 100 and 24h; the s10-1h file is
# HOSTS=10 DURATION=1h). Without INFLUXD on disk only Strata is measured.
# CPU_TYPES (a comma-separated list of query types) instead reports each
# server's CPU time per query of each type (CPU_QUERIES of each, default
# 20), the figure a loaded machine does not distort. COLD (e.g. 5s, with
# SETTLE=30) queries the data at rest in fully compacted files.
# PROFILE_DIR, when set, gets a CPU profile (profile.prof), a mutex and a block
# profile (pprof-contention-enabled) of the Strata data node over the
# PROFILE_SECONDS (default 20) from PROFILE_DELAY seconds (default 0) into
# the queries (with --mixed, a delay past the one-client phase profiles the
# many-clients phase alone), its heap allocation
# profiles before and after the queries (allocs-before.prof, allocs.prof:
# `go tool pprof -sample_index=alloc_space -diff_base allocs-before.prof
# strata allocs.prof` is what the queries allocated), and the binary.
# Whatever the mode, the last lines say what the data node spent on the
# queries: CPU-seconds, bytes allocated and garbage collections.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
influxd=${INFLUXD:-/work/bin/influxd}
hosts=${HOSTS:-100}
duration=${DURATION:-24h}
[ $# -gt 0 ] || set -- --queries all

# free_port prints a loopback TCP port nobody listens on now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

meta_http=$(free_port) meta_raft=$(free_port) data_http=$(free_port) data_rpc=$(free_port)
contention=false
[ -z "${PROFILE_DIR:-}" ] || contention=true
cat >"$work/data.toml" <<EOF
[http]
  pprof-enabled = true
  pprof-contention-enabled = $contention
EOF
if [ -n "${COLD:-}" ]; then
  # Snapshot and fully compact after COLD without writes, so that every run
  # queries the same fully compacted files (otherwise what the cache still
  # holds when the queries start varies from run to run).
  cat >>"$work/data.toml" <<EOF
[storage]
  cache-snapshot-write-cold-duration = "$COLD"
  compact-full-write-cold-duration = "$COLD"
EOF
fi
"$bin" meta --dir "$work/meta" --http-addr 127.0.0.1:$meta_http --raft-addr 127.0.0.1:$meta_raft --log-level warn 2>"$work/meta.log" &
pids+=($!)
wait_http http://127.0.0.1:$meta_http/health
"$bin" data --config "$work/data.toml" --dir "$work/data" --meta 127.0.0.1:$meta_http \
  --http-addr 127.0.0.1:$data_http --rpc-addr 127.0.0.1:$data_rpc --log-level warn 2>"$work/data.log" &
pids+=($!); strata_pid=$!
wait_http http://127.0.0.1:$data_http/health
strata=http://127.0.0.1:$data_http
urls=(--url "$strata")
load() {
  echo "loading $file into $1"
  "$bin" bench --url "$1" --db tsbs --file "$file" --workers 2 --batch-size 5000 --ceiling=false --progress off | grep -E '^  (rate|errors)'
}
load "$strata"

if [ -x "$influxd" ]; then
  ihttp=$(free_port) irpc=$(free_port)
  cat >"$work/influxd.toml" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$irpc"
[meta]
  dir = "$work/influxd/meta"
[data]
  dir = "$work/influxd/data"
  wal-dir = "$work/influxd/wal"
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:$ihttp"
EOF
  "$influxd" run -config "$work/influxd.toml" >"$work/influxd.log" 2>&1 &
  pids+=($!); influxd_pid=$!
  wait_http http://127.0.0.1:$ihttp/ping
  load "http://127.0.0.1:$ihttp"
  urls+=(--compare-url "http://127.0.0.1:$ihttp" --labels strata,influxd)
else
  echo "$influxd not found: measuring Strata alone"
fi

# Let the loads' snapshots and compactions settle so both are queried at rest.
sleep "${SETTLE:-10}"
# metric NAME prints the data node's Prometheus sample NAME (no labels).
metric() { curl -sf "$strata/metrics" | awk -v m="$1" '$1 == m { printf "%.0f", $2 }'; }
cpu0=$(cpu_seconds "$strata_pid") alloc0=$(metric go_memstats_alloc_bytes_total) gc0=$(metric go_gc_duration_seconds_count)
if [ -n "${PROFILE_DIR:-}" ]; then
  mkdir -p "$PROFILE_DIR"
  curl -sf -o "$PROFILE_DIR/allocs-before.prof" "$strata/debug/pprof/allocs"
  secs=${PROFILE_SECONDS:-20}
  profs=()
  for p in profile mutex block; do
    (sleep "${PROFILE_DELAY:-0}"; curl -sf -o "$PROFILE_DIR/$p.prof" "$strata/debug/pprof/$p?seconds=$secs") &
    profs+=($!)
  done
fi
if [ -n "${CPU_TYPES:-}" ]; then
  # Server CPU per query, type by type: each server's user + system CPU
  # time around a run of one type (both servers are sent the same
  # queries; each does only its own). Independent of the machine's load,
  # unlike latency.
  cpu_ms() { awk '{printf "%d", ($14 + $15) * 1000 / '"$(getconf CLK_TCK)"'}' "/proc/$1/stat"; }
  echo "server CPU per query (ms), ${CPU_QUERIES:-20} queries of each type"
  printf '%-24s %10s %10s %8s\n' "query type" strata influxd ratio
  for t in ${CPU_TYPES//,/ }; do
    s0=$(cpu_ms "$strata_pid"); i0=$(cpu_ms "${influxd_pid:-$strata_pid}")
    "$bin" bench "${urls[@]}" --db tsbs --hosts "$hosts" --duration "$duration" --workers 2 --progress off \
      --queries "$t" --query-count "${CPU_QUERIES:-20}" >/dev/null
    s1=$(cpu_ms "$strata_pid"); i1=$(cpu_ms "${influxd_pid:-$strata_pid}")
    n=$(( ${CPU_QUERIES:-20} + 1 ))
    awk -v t="$t" -v s=$((s1 - s0)) -v i=$((i1 - i0)) -v n=$n \
      'BEGIN { printf "%-24s %10.2f %10.2f %8.2f\n", t, s / n, i / n, (i > 0 ? s / i : 0) }'
  done
else
  # A failed query fails the script, after the figures below.
  "$bin" bench "${urls[@]}" --db tsbs --hosts "$hosts" --duration "$duration" --workers 2 --progress off "$@" || status=$?
fi
cpu1=$(cpu_seconds "$strata_pid") alloc1=$(metric go_memstats_alloc_bytes_total) gc1=$(metric go_gc_duration_seconds_count)
echo "strata data node during the queries: $(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }') CPU-s," \
  "$(( (alloc1 - alloc0) >> 20 )) MB allocated, $((gc1 - gc0)) garbage collections"
if [ -n "${PROFILE_DIR:-}" ]; then
  curl -sf -o "$PROFILE_DIR/allocs.prof" "$strata/debug/pprof/allocs"
  wait "${profs[@]}" || echo "a profile failed"
  cp "$bin" "$PROFILE_DIR/strata"
fi
echo "strata data node: $(awk '/VmRSS/ {printf "%.0f MB resident", $2/1024}' /proc/$strata_pid/status)"
exit "${status:-0}"
