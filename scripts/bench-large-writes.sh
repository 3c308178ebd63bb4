#!/usr/bin/env bash
# Peak resident memory of one data node taking large /write bodies at once:
# starts 1 meta + 1 data on loopback, sends CONCURRENT (default 4) bodies of
# the first ~24 MB of FILE (default ../shared/data/tsbs-cpu-only-s100-1d.lp.gz,
# just under the default max-body-size) in parallel, and prints the answers
# and the data node's peak VmRSS, sampled every 50 ms.
set -euo pipefail
concurrent=${CONCURRENT:-4}
. "$(dirname "$0")/lib.sh"

{ zcat -f "$file" || true; } | head -c 24000000 | sed '$d' >"$work/body.lp" # zcat stops at the pipe's end
"$bin" meta --dir "$work/meta" --http-addr 127.0.0.1:19391 --raft-addr 127.0.0.1:19389 --log-level warn 2>"$work/meta.log" &
pids+=($!)
wait_http http://127.0.0.1:19391/health
"$bin" data --dir "$work/data" --meta 127.0.0.1:19391 --http-addr 127.0.0.1:19386 --rpc-addr 127.0.0.1:19388 --log-level warn 2>"$work/data.log" &
data=$!
pids+=($data)
wait_http http://127.0.0.1:19386/health
curl -sf -XPOST http://127.0.0.1:19386/query --data-urlencode "q=CREATE DATABASE big" >/dev/null
(
  peak=0
  while kill -0 "$data" 2>/dev/null; do
    r=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$data/status" 2>/dev/null || echo 0)
    if [ "${r:-0}" -gt "$peak" ]; then peak=$r; echo "$peak" >"$work/peak"; fi
    sleep 0.05
  done
) &
pids+=($!)
writers=()
for _ in $(seq "$concurrent"); do
  curl -s -o /dev/null -w "%{http_code} " -XPOST "http://127.0.0.1:19386/write?db=big" --data-binary @"$work/body.lp" &
  writers+=($!)
done
wait "${writers[@]}"
sleep 0.5
echo
echo "$concurrent concurrent bodies of $(($(wc -c <"$work/body.lp") / 1000000)) MB: data node peak resident memory $(cat "$work/peak") MB"
