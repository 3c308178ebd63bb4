#!/usr/bin/env bash
# Series-count benchmark of issue 17 item 3: for each host count, starts a
# fresh 1 meta + 1 data cluster of real processes on free loopback ports,
# loads generated TSBS cpu-only data with `strata bench --hosts N`, and
# prints per run: the write rate, failed batches, the seconds writers spent
# waiting for a full cache (backpressure), the data node's resident memory
# (total, anonymous, file-backed, peak) and CPU-seconds when the load ends,
# and CPU per value (the last two columns: the system part of the
# CPU-seconds and the minor page faults, in thousands); then it stops the data node (SIGTERM), starts it again
# and prints the milliseconds from that start to the first answer of a
# query that reads the data, and the CPU-seconds the new process used by
# then (the figure that holds on a loaded machine).
#
#   scripts/bench-series.sh [runs] [hosts...]     # default: 1 run of 100 10000 100000 1000000
#
# Every run writes the same LINES lines (default 2,000,000: 20 M values), so
# the rates compare: --duration is LINES / hosts x 10 s (20s at 1 M hosts,
# the issue's load; 55h33m20s at 100 hosts). Extra `strata bench` flags go
# in BENCH_FLAGS; DATA_CONFIG, when set, is passed to the data node as --config; KEEP=1
# keeps each run's directory (data, logs, profiles) for inspection;
# PROFILE=1 records CPU profiles of the data node through the whole load,
# in 10 s parts merged into cpu.pprof, and a heap profile when the load
# ends (heap.pprof). STRATA_BIN runs that binary instead of building the
# tree's (A/B comparisons).
set -euo pipefail
runs=${1:-1}
shift $(( $# > 0 ? 1 : 0 )) || true
hosts=("$@")
[ ${#hosts[@]} -gt 0 ] || hosts=(100 10000 100000 1000000)
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
bin=$work/strata
if [ -n "${STRATA_BIN:-}" ]; then cp "$STRATA_BIN" "$bin"; else (cd "$root" && CGO_ENABLED=0 go build -o "$bin" ./cmd/strata); fi
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "${KEEP:-}" = 1 ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
wait_http() { for _ in $(seq 600); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "timeout waiting for $1"; exit 1; }
# free_port prints a loopback port nobody listens on (the kernel's choice).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# proc_stat prints "rss_MB anon_MB file_MB peak_MB cpu_s sys_s minflt_k" of
# process $1: resident memory, its anonymous part (heap, stacks) and its
# file-backed part (mapped data files, which the kernel can drop), peak
# resident, user+system CPU-seconds, the system part of them, and the
# thousands of minor page faults it took (first touches of memory).
proc_stat() {
  awk -v hz="$(getconf CLK_TCK)" -v stat="$(cut -d' ' -f10,14,15 /proc/$1/stat)" '
    /^VmRSS/ {rss = $2} /^RssAnon/ {anon = $2} /^RssFile/ {file = $2} /^VmHWM/ {hwm = $2}
    END {split(stat, t, " "); printf "%d %d %d %d %.1f %.1f %d\n", rss / 1024, anon / 1024, file / 1024, hwm / 1024, (t[2] + t[3]) / hz, t[3] / hz, t[1] / 1000}' /proc/$1/status
}
# now_ms prints the wall clock in milliseconds.
now_ms() { date +%s%3N; }

printf '%-8s %-4s %10s %6s %9s %7s %8s %8s %8s %7s %8s %10s %13s %6s %8s\n' hosts run 'values/s' failed 'wait s' 'RSS MB' 'anon MB' 'file MB' 'peak MB' 'CPU-s' 'µs/value' 'restart ms' 'restart CPU-s' 'sys s' 'faults k'
for n in "${hosts[@]}"; do
  for r in $(seq 1 "$runs"); do
    dir=$work/h$n-r$r
    mkdir -p "$dir"
    mhttp=$(free_port); mraft=$(free_port); dhttp=$(free_port); drpc=$(free_port)
    "$bin" meta --dir "$dir/meta" --http-addr 127.0.0.1:$mhttp --raft-addr 127.0.0.1:$mraft --log-level warn 2>"$dir/meta.log" &
    pids=($!)
    wait_http http://127.0.0.1:$mhttp/health
    start_data() {
      "$bin" data ${DATA_CONFIG:+--config "$DATA_CONFIG"} --dir "$dir/data" --meta 127.0.0.1:$mhttp \
        --http-addr 127.0.0.1:$dhttp --rpc-addr 127.0.0.1:$drpc --log-level warn 2>>"$dir/data.log" &
      dpid=$!
      pids+=($dpid)
    }
    start_data
    wait_http http://127.0.0.1:$dhttp/health
    if [ -n "${PROFILE:-}" ]; then
      (i=0; while [ ! -e "$dir/loaded" ]; do
        curl -s -o "$dir/cpu.$i.pprof" "http://127.0.0.1:$dhttp/debug/pprof/profile?seconds=10"; i=$((i + 1))
      done) &
      profpid=$!
    fi
    # shellcheck disable=SC2086
    set +e
    "$bin" bench --url http://127.0.0.1:$dhttp --db bench --hosts "$n" --duration "$(( ${LINES:-2000000} / n * 10 ))s" ${BENCH_FLAGS:-} \
      --progress off --ceiling=false --json >"$dir/bench.json" 2>"$dir/bench.err"
    set -e
    read -r rate errs values < <(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(round(s.get("values_per_sec",0)), s.get("batches_failed",0), s.get("values",0))' "$dir/bench.json" 2>/dev/null || echo "0 ? 0")
    read -r rss anon file hwm cpu sys faults < <(proc_stat "$dpid")
    if [ -n "${PROFILE:-}" ]; then
      touch "$dir/loaded"
      curl -s -o "$dir/heap.pprof" "http://127.0.0.1:$dhttp/debug/pprof/heap"
      wait "$profpid" || true
      go tool pprof -proto "$bin" "$dir"/cpu.*.pprof >"$dir/cpu.pprof" 2>/dev/null && rm -f "$dir"/cpu.*.pprof
    fi
    waited=$(curl -s http://127.0.0.1:$dhttp/metrics | awk '/^strata_tsdb_cache_full_wait_seconds_total / {printf "%.1f", $2}')
    per=$(awk -v c="$cpu" -v v="$values" 'BEGIN {if (v > 0) printf "%.2f", c / v * 1e6; else print "-"}')
    # Restart: stop the data node (SIGTERM, a clean close), start it again
    # and time the first query that reads the data.
    kill "$dpid"; wait "$dpid" 2>/dev/null || true
    t0=$(now_ms)
    start_data
    restart=timeout restart_cpu=-
    for _ in $(seq 1200); do
      if curl -sf -o "$dir/q.json" -G http://127.0.0.1:$dhttp/query --data-urlencode db=bench \
        --data-urlencode "q=SELECT last(usage_user) FROM cpu WHERE hostname = 'host_0'" 2>/dev/null &&
        grep -q '"values"' "$dir/q.json"; then
        restart=$(( $(now_ms) - t0 ))
        read -r _ _ _ _ restart_cpu _ _ < <(proc_stat "$dpid")
        break
      fi
      sleep 0.05
    done
    printf '%-8s %-4s %10s %6s %9s %7s %8s %8s %8s %7s %8s %10s %13s %6s %8s\n' "$n" "$r" "$rate" "$errs" "${waited:-0}" "$rss" "$anon" "$file" "$hwm" "$cpu" "$per" "$restart" "$restart_cpu" "$sys" "$faults"
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
    [ "${KEEP:-}" = 1 ] || rm -rf "$dir"
  done
done
