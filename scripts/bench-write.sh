#!/usr/bin/env bash
# Ingest benchmark of issues 4 and 17: per run and per mode, starts fresh
# processes on free loopback ports, loads the file once with `strata bench`,
# and prints the run's summary, every server process's CPU time for the load
# (user + system, at the load's end and again SETTLE seconds later, with the
# CPU per value) and its resident memory when the load ends; for Strata
# also the first data node's snapshots, compactions and GC cycles so far.
#
#   scripts/bench-write.sh single [runs] [extra strata bench flags...]   # 1 meta + 1 data, RF 1
#   scripts/bench-write.sh cluster [runs] [extra strata bench flags...]  # 3 meta + 2 data, RF 2 (strata local's shape)
#   scripts/bench-write.sh influxd [runs] [extra strata bench flags...]  # InfluxDB 1.x (INFLUXD, default /work/bin/influxd)
#   scripts/bench-write.sh single,influxd 3 ...                          # both, alternating within each run
#
# FILE (default ../shared/data/tsbs-cpu-only-s100-1d.lp.gz) is the data;
# DATA_CONFIG, when set, is passed to every data node as --config; SETTLE
# (default 5) is the pause before the second CPU reading. PROFILE=DIR saves
# a CPU profile of the first data node per run (DIR/<mode>-run<N>.pprof,
# PROFILE_SECONDS long, default 20: the load must end within it); it turns
# on [http] pprof-enabled, so it cannot be combined with DATA_CONFIG.
set -euo pipefail
modes=${1:-single}
runs=${2:-3}
shift $(( $# > 2 ? 2 : $# )) || true
. "$(dirname "$0")/lib.sh"
settle=${SETTLE:-5}
influxd=${INFLUXD:-/work/bin/influxd}
data_config=${DATA_CONFIG:-}
if [ -n "${PROFILE:-}" ]; then
  [ -z "$data_config" ] || { echo "PROFILE and DATA_CONFIG cannot be combined"; exit 2; }
  mkdir -p "$PROFILE"
  data_config=$work/pprof.toml
  printf '[http]\npprof-enabled = true\n' >"$data_config"
fi

# start_strata starts fresh meta and data processes under $work/$1; the
# first data node's client API is $url.
start_strata() {
  local dir=$work/$1 metas=$2 datas=$3 join i http raft first=""
  pids=(); servers=(); urls=(); metaaddrs=""
  for i in $(seq 0 $((metas - 1))); do
    http=$(free_port); raft=$(free_port)
    join=(); [ -n "$first" ] && join=(--join "$first")
    "$bin" meta --dir "$dir/meta$i" --http-addr "127.0.0.1:$http" --raft-addr "127.0.0.1:$raft" "${join[@]}" --log-level warn 2>"$dir.meta$i.log" &
    pids+=($!)
    wait_http "http://127.0.0.1:$http/health"
    first=${first:-127.0.0.1:$http}
    metaaddrs+="${metaaddrs:+,}127.0.0.1:$http"
  done
  url=""
  for i in $(seq 0 $((datas - 1))); do
    http=$(free_port)
    "$bin" data ${data_config:+--config "$data_config"} --dir "$dir/data$i" --meta "$metaaddrs" --http-addr "127.0.0.1:$http" --rpc-addr "127.0.0.1:$(free_port)" --log-level warn 2>"$dir.data$i.log" &
    pids+=($!); servers+=("data$i:$!"); urls+=("http://127.0.0.1:$http")
    wait_http "http://127.0.0.1:$http/health"
    url=${url:-http://127.0.0.1:$http}
  done
}

# start_influxd starts a fresh InfluxDB 1.x under $work/$1.
start_influxd() {
  local dir=$work/$1 http
  [ -x "$influxd" ] || { echo "influxd not found at $influxd (set INFLUXD)"; exit 1; }
  http=$(free_port)
  mkdir -p "$dir"
  cat >"$dir/influxdb.conf" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$(free_port)"
[meta]
  dir = "$dir/meta"
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$http"
  log-enabled = false
[monitor]
  store-enabled = false
EOF
  pids=(); servers=(); urls=()
  "$influxd" run -config "$dir/influxdb.conf" 2>"$dir.log" >&2 &
  pids+=($!); servers+=("influxd:$!")
  url=http://127.0.0.1:$http
  wait_http "$url/ping"
}

# stop_servers stops the processes a start_ function started.
stop_servers() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}

# Each run loads the file once into fresh processes per mode, so every
# figure (rate, CPU, and memory the moment the load ends) is one load's.
for r in $(seq 1 "$runs"); do
  for mode in ${modes//,/ }; do
    rf=1
    case $mode in
    single) start_strata "$mode$r" 1 1 ;;
    cluster) start_strata "$mode$r" 3 2; rf=2 ;;
    influxd) start_influxd "$mode$r" ;;
    *) echo "mode must be single, cluster or influxd"; exit 2 ;;
    esac
    echo "run $r: $mode"
    curl -sf -XPOST "$url/query" --data-urlencode "q=CREATE DATABASE bench WITH REPLICATION $rf" >/dev/null
    declare -A cpu0=()
    for s in "${servers[@]}"; do cpu0[${s%%:*}]=$(cpu_seconds "${s#*:}"); done
    profilers=()
    if [ -n "${PROFILE:-}" ] && [ "$mode" != influxd ]; then
      for i in "${!urls[@]}"; do
        out=$PROFILE/$mode-run$r.pprof
        [ "$i" = 0 ] || out=$PROFILE/$mode-run$r-data$i.pprof
        curl -sf -o "$out" "${urls[$i]}/debug/pprof/profile?seconds=${PROFILE_SECONDS:-20}" &
        profilers+=($!)
      done
    fi
    "$bin" bench --url "$url" --db bench --create-db=false --file "$file" --workers 2 --batch-size 5000 --progress off "$@" \
      >"$work/summary"
    grep -E '^  (rate|ceiling|latency|errors)' "$work/summary"
    values=$(awk '/^  written/ {print $4}' "$work/summary")
    declare -A cpu1=() rss=()
    for s in "${servers[@]}"; do
      cpu1[${s%%:*}]=$(cpu_seconds "${s#*:}")
      rss[${s%%:*}]=$(awk '/VmRSS/ {printf "%.0f MB", $2/1024}' "/proc/${s#*:}/status")
    done
    if [ "$mode" != influxd ]; then
      # What of the background work had run when the load ended: it runs
      # on its own timing, so a slower load ends after more of it.
      curl -sf "${urls[0]}/metrics" | awk '/^strata_tsdb_snapshots_total / {s = $2} /^strata_tsdb_compactions_total\{/ {c += $2}
        /^go_gc_duration_seconds_count / {g = $2} END {printf "  data0    at the load end: %d snapshots, %d compactions, %d GC cycles\n", s, c, g}'
    fi
    sleep "$settle"
    for s in "${servers[@]}"; do
      n=${s%%:*}
      later=$(cpu_seconds "${s#*:}")
      awk -v n="$n" -v a="${cpu0[$n]}" -v b="${cpu1[$n]}" -v c="$later" -v v="$values" -v rss="${rss[$n]}" -v settle="$settle" 'BEGIN {
        printf "  %-8s cpu %.2f s at the load end (%.3f us/value), %.2f s %ss later (%.3f us/value); resident memory after the load %s\n",
          n, b - a, (b - a) * 1e6 / v, c - a, settle, (c - a) * 1e6 / v, rss }'
    done
    for p in "${profilers[@]}"; do wait "$p" || echo "  profile failed (load longer than PROFILE_SECONDS?)"; done
    stop_servers
  done
done
