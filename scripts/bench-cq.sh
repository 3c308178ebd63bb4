#!/usr/bin/env bash
# CPU cost of a continuous query while ingest runs (issue 15): alternating
# runs without and with a CQ that rolls up 100 hosts x 10 fields into 10 s
# means (`SELECT mean(*) INTO … GROUP BY time(10s), *`), each on a fresh
# 1 meta + 1 data cluster of real processes on free loopback ports.
#
#   scripts/bench-cq.sh [pairs] [extra strata bench flags...]
#
# The load is `strata bench`'s generated TSBS cpu-only data (100 hosts, 10
# fields a line) starting LEAD (default 5s, about the time to generate it)
# after the wall clock's now, one line per host every INTERVAL (default
# 5ms: 200k values per second of data time) for DURATION (default 60s).
# Ingest runs faster than that here, so the data is written ahead of the
# wall clock and every 10 s the CQ finds the window that just ended
# complete, as behind live ingest. Per run it prints the ingest rate, the
# data node's CPU-seconds (user+system) during the load, and the CQ's runs
# and points written; with the CQ it then runs the CQ's statement by hand
# over all the data written, in the CQ's 10 s windows, three times, and
# prints the data node's CPU-seconds for each: CPU per value rolled up,
# to compare with the load's CPU per value ingested. Compare
# medians: the machine may be shared.
set -euo pipefail
pairs=${1:-3}
shift $(( $# > 0 ? 1 : 0 )) || true
extra=("$@")
interval=${INTERVAL:-5ms}
duration=${DURATION:-60s} # in seconds
lead=${LEAD:-5}
generated_data=1
. "$(dirname "$0")/lib.sh"
# metric URL NAME: the sum of every sample of NAME on URL's /metrics.
metric() { curl -sf "$1/metrics" | awk -v n="$2" '$1 ~ "^"n"({|$)" {s += $2} END {printf "%.0f", s}'; }

run() { # run N with|without
  local dir=$work/run$1 mode=$2 mhttp mraft dhttp drpc url dpid before after start
  mhttp=$(free_port); mraft=$(free_port); dhttp=$(free_port); drpc=$(free_port)
  url=http://127.0.0.1:$dhttp
  "$bin" meta --dir "$dir/meta" --http-addr 127.0.0.1:$mhttp --raft-addr 127.0.0.1:$mraft --log-level warn 2>"$dir.meta.log" &
  pids+=($!)
  wait_http http://127.0.0.1:$mhttp/health
  "$bin" data --dir "$dir/data" --meta 127.0.0.1:$mhttp --http-addr 127.0.0.1:$dhttp --rpc-addr 127.0.0.1:$drpc --log-level warn 2>"$dir.data.log" &
  dpid=$!; pids+=($dpid)
  wait_http "$url/health"
  curl -sf -XPOST "$url/query" --data-urlencode "q=CREATE DATABASE bench WITH REPLICATION 1" >/dev/null
  if [ "$mode" = with ]; then
    curl -sf -XPOST "$url/query" --data-urlencode 'q=CREATE CONTINUOUS QUERY cpu_10s ON bench BEGIN SELECT mean(*) INTO bench.autogen.cpu_10s FROM bench.autogen.cpu GROUP BY time(10s), * END' >/dev/null
  fi
  start=$(date -u -d "+$lead seconds" +%Y-%m-%dT%H:%M:%SZ)
  before=$(cpu_seconds "$dpid")
  echo "run $1, $mode CQ (data from $start, one line per host every $interval for $duration):"
  "$bin" bench --url "$url" --db bench --create-db=false --hosts 100 --start "$start" --interval "$interval" --duration "$duration" \
    --workers 2 --batch-size 5000 --progress off --ceiling=false "${extra[@]}" | sed 's/^/  /'
  after=$(cpu_seconds "$dpid")
  # Let the CQ catch the last window, then read what it did.
  if [ "$mode" = with ]; then sleep 12; fi
  echo "  data node CPU during the load: $(awk -v a="$after" -v b="$before" 'BEGIN {printf "%.2f", a - b}') s"
  echo "  CQ runs: $(metric "$url" strata_cq_runs_total), points written: $(metric "$url" strata_cq_points_written_total), failures: $(metric "$url" strata_cq_run_failures_total)"
  if [ "$mode" = with ]; then
    # The CQ's statement by hand over all the data written, in its 10 s
    # windows (DURATION / 10 s CQ runs' worth, every value ingested), three
    # times, with the data node's CPU-seconds for each.
    local w0 w1 counted answer
    w0=$(date -u -d "$start" +%Y-%m-%dT%H:%M:%SZ); w1=$(date -u -d "$start + ${duration%s} seconds" +%Y-%m-%dT%H:%M:%SZ)
    counted=$(curl -sf "$url/query" --data-urlencode db=bench --data-urlencode "q=SELECT count(usage_user) FROM cpu WHERE time >= '$w0' AND time < '$w1'" | grep -o '"values":\[\[[^]]*' | awk -F, '{print $2 * 10}')
    for k in 1 2 3; do
      before=$(cpu_seconds "$dpid")
      answer=$(curl -sf -XPOST "$url/query" --data-urlencode db=bench --data-urlencode "q=SELECT mean(*) INTO bench.autogen.cpu_10s_by_hand FROM bench.autogen.cpu WHERE time >= '$w0' AND time < '$w1' GROUP BY time(10s), *" | grep -o '"written"\],"values":\[\[[^]]*' | awk -F, '{print $NF}')
      after=$(cpu_seconds "$dpid")
      echo "  the CQ by hand over $w0 .. $w1 ($counted values, $answer points written): $(awk -v a="$after" -v b="$before" 'BEGIN {printf "%.2f", a - b}') CPU-s"
    done
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
  rm -rf "$dir"
}

for i in $(seq 1 "$pairs"); do
  run "$i.a" without
  run "$i.b" with
done
