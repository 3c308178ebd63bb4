#!/usr/bin/env bash
# Ingest benchmark of issue 4: per run, starts a fresh cluster of real
# processes on loopback, loads the file once with `strata bench`, and prints
# the run's summary and every data node's resident memory when the load ends.
#
#   scripts/bench-write.sh single [runs] [extra strata bench flags...]   # 1 meta + 1 data, RF 1
#   scripts/bench-write.sh cluster [runs] [extra strata bench flags...]  # 3 meta + 2 data, RF 2 (strata local's shape)
#
# FILE (default ../shared/data/tsbs-cpu-only-s100-1d.lp.gz) is the data;
# DATA_CONFIG, when set, is passed to every data node as --config.
set -euo pipefail
mode=${1:-single}
runs=${2:-3}
shift $(( $# > 2 ? 2 : $# )) || true
. "$(dirname "$0")/lib.sh"

case $mode in
single) metas=1; datas=1; rf=1 ;;
cluster) metas=3; datas=2; rf=2 ;;
*) echo "mode must be single or cluster"; exit 2 ;;
esac
# start_cluster starts fresh meta and data processes under $work/run$1.
start_cluster() {
  local dir=$work/run$1 join i
  pids=(); datapids=(); metaaddrs=""
  for i in $(seq 0 $((metas - 1))); do
    join=(); [ "$i" -gt 0 ] && join=(--join 127.0.0.1:19091)
    "$bin" meta --dir "$dir/meta$i" --http-addr 127.0.0.1:$((19091 + i * 100)) --raft-addr 127.0.0.1:$((19089 + i * 100)) "${join[@]}" --log-level warn 2>"$dir.meta$i.log" &
    pids+=($!)
    wait_http http://127.0.0.1:$((19091 + i * 100))/health
    metaaddrs+="${metaaddrs:+,}127.0.0.1:$((19091 + i * 100))"
  done
  for i in $(seq 0 $((datas - 1))); do
    "$bin" data ${DATA_CONFIG:+--config "$DATA_CONFIG"} --dir "$dir/data$i" --meta "$metaaddrs" --http-addr 127.0.0.1:$((19086 + i * 100)) --rpc-addr 127.0.0.1:$((19088 + i * 100)) --log-level warn 2>"$dir.data$i.log" &
    pids+=($!); datapids+=($!)
    wait_http http://127.0.0.1:$((19086 + i * 100))/health
  done
}

# stop_cluster stops the processes start_cluster started.
stop_cluster() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}

# Each run loads the file once into a fresh cluster, so every figure (rate,
# and the data nodes' memory the moment the load ends) is one load's.
for r in $(seq 1 "$runs"); do
  start_cluster "$r"
  curl -sf -XPOST http://127.0.0.1:19086/query --data-urlencode "q=CREATE DATABASE bench WITH REPLICATION $rf" >/dev/null
  "$bin" bench --url http://127.0.0.1:19086 --db bench --create-db=false --file "$file" --workers 2 --batch-size 5000 --progress off "$@" \
    | grep -E '^  (rate|ceiling|latency|errors)'
  for i in "${!datapids[@]}"; do
    echo "  data$i resident memory after the load: $(awk '/VmRSS/ {printf "%.0f MB", $2/1024}' /proc/${datapids[$i]}/status)"
  done
  stop_cluster
done
