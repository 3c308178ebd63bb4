#!/usr/bin/env bash
# Memory of an unbounded chunked query (issue 9, item 6): per run, starts
# 1 meta + 2 data processes on loopback (RF 1, so each data node holds half
# the shards and the query reads the other half over the internode RPC),
# loads FILE with `strata bench`, restarts the data nodes (so their memory
# is the query's, not what the load left behind), then runs
#
#   SELECT * FROM /.*/          (no time bound) with chunked=true
#
# on data0 and prints, per data node, its resident memory before the query
# and its peak (VmHWM, reset just before the query) while serving it, with
# the size of the answer.
#
#   scripts/bench-chunked-memory.sh [runs] [extra /query parameters...]
#
# e.g. `scripts/bench-chunked-memory.sh 3 chunk_size=1000`. FILE defaults to
# ../shared/data/tsbs-cpu-only-s100-1d.lp.gz; QUERY overrides the statement;
# CHUNKED=false runs it without chunked=true.
set -euo pipefail
runs=${1:-3}
shift $(( $# > 1 ? 1 : $# )) || true
q=${QUERY:-SELECT * FROM /.*/}
chunked=${CHUNKED:-true}
. "$(dirname "$0")/lib.sh"
mb() { awk -v k="$2" '$1 == k":" {printf "%.0f", $2/1024}' "/proc/$1/status"; }

# start_data starts data node $2 of run directory $1, recording its pid.
start_data() {
  "$bin" data --dir "$1/data$2" --meta 127.0.0.1:19091 --http-addr 127.0.0.1:$((19086 + $2 * 100)) \
    --rpc-addr 127.0.0.1:$((19088 + $2 * 100)) --log-level warn 2>>"$1.data$2.log" &
  pids+=($!); datapids[$2]=$!
  wait_http http://127.0.0.1:$((19086 + $2 * 100))/health
}

for r in $(seq 1 "$runs"); do
  dir=$work/run$r
  pids=(); datapids=()
  "$bin" meta --dir "$dir/meta0" --http-addr 127.0.0.1:19091 --raft-addr 127.0.0.1:19089 --log-level warn 2>"$dir.meta0.log" &
  pids+=($!)
  wait_http http://127.0.0.1:19091/health
  start_data "$dir" 0
  start_data "$dir" 1
  curl -sf -XPOST http://127.0.0.1:19086/query --data-urlencode "q=CREATE DATABASE bench WITH REPLICATION 1" >/dev/null
  "$bin" bench --url http://127.0.0.1:19086 --db bench --create-db=false --file "$file" --workers 2 \
    --batch-size 5000 --progress off --ceiling=false | grep -E '^  (rate|errors)'
  for i in 0 1; do kill "${datapids[$i]}"; wait "${datapids[$i]}" 2>/dev/null || true; done
  start_data "$dir" 0
  start_data "$dir" 1
  sleep 2
  for i in 0 1; do
    echo "  data$i before the query: $(mb "${datapids[$i]}" VmRSS) MB resident"
    echo 5 >"/proc/${datapids[$i]}/clear_refs" # VmHWM := VmRSS
  done
  params=(--data-urlencode "db=bench" --data-urlencode "q=$q")
  [ "$chunked" = true ] && params+=(--data-urlencode chunked=true)
  for p in "$@"; do params+=(--data-urlencode "$p"); done
  start=$(date +%s.%N)
  curl -sf -G http://127.0.0.1:19086/query "${params[@]}" -o "$work/answer"
  end=$(date +%s.%N)
  printf '  answer: %s bytes, %s lines, %.1f s\n' "$(stat -c %s "$work/answer")" "$(wc -l <"$work/answer")" "$(echo "$end - $start" | bc)"
  for i in 0 1; do
    echo "  data$i while serving it: peak $(mb "${datapids[$i]}" VmHWM) MB resident (VmHWM)"
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir" "$work/answer"
done
