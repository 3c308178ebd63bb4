#!/usr/bin/env bash
# Backup and restore benchmark of issue 14: loads the file with `strata
# bench` into a source cluster of real processes (1 meta + 2 data, RF 2),
# then per run: a full `strata ctl backup` into a fresh folder, an
# incremental backup on top of it (nothing changed), and a `strata ctl
# restore` into a second cluster (1 meta + 2 data) under a new database
# name with RF 1. Prints, per step (the load too, as a yardstick measured
# in the same run), the wall time and the CPU seconds of every process
# involved (data nodes of both clusters, meta nodes, ctl or bench), the
# backup's size, and the values restored (their number and the sum of
# every field of every host checked against the source).
#
#   scripts/bench-backup.sh [runs]
#
# FILE (default ../shared/data/tsbs-cpu-only-s100-1d.lp.gz) is the data.
set -euo pipefail
runs=${1:-3}
. "$(dirname "$0")/lib.sh"

# start_cluster NAME BASEPORT: 1 meta + 2 data under $work/NAME; sets
# meta_<NAME> and appends the pids.
start_cluster() {
  local name=$1 port=$2 i
  "$bin" meta --dir "$work/$name/meta" --http-addr 127.0.0.1:$((port + 1)) --raft-addr 127.0.0.1:$((port + 2)) --log-level warn 2>"$work/$name.meta.log" &
  pids+=($!)
  wait_http http://127.0.0.1:$((port + 1))/health
  for i in 0 1; do
    "$bin" data --dir "$work/$name/data$i" --meta 127.0.0.1:$((port + 1)) --http-addr 127.0.0.1:$((port + 10 + i * 10)) \
      --rpc-addr 127.0.0.1:$((port + 11 + i * 10)) --log-level warn 2>"$work/$name.data$i.log" &
    pids+=($!)
    wait_http http://127.0.0.1:$((port + 10 + i * 10))/health
  done
}

# cpu_ticks prints the user+system clock ticks of every started process.
cpu_ticks() {
  local p t=0
  for p in "${pids[@]}"; do
    t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat)))
  done
  echo $t
}

# measure LABEL CMD...: runs CMD, prints wall seconds and CPU seconds of
# the cluster processes plus CMD's own.
measure() {
  local label=$1 before after start end own
  shift
  before=$(cpu_ticks)
  start=$(date +%s.%N)
  /usr/bin/time -f '%U %S' -o "$work/time" "$@" >"$work/out" 2>&1 || { cat "$work/out"; exit 1; }
  end=$(date +%s.%N)
  after=$(cpu_ticks)
  own=$(awk '{print $1 + $2}' "$work/time")
  awk -v l="$label" -v s="$start" -v e="$end" -v b="$before" -v a="$after" -v o="$own" \
    'BEGIN {printf "  %-22s wall %6.1f s   cpu %6.1f s (nodes %.1f, client %.1f)\n", l, e - s, (a - b) / 100 + o, (a - b) / 100, o}'
  grep -E '^ *(rate|backup [0-9]|[0-9]+ shards)' "$work/out" | tail -1 | sed 's/^/    /'
}

count() { # count URL DB: the number of values of cpu in DB
  curl -sf "$1/query" --data-urlencode "db=$2" --data-urlencode 'q=SELECT count(*) FROM cpu' |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["results"][0]; print(sum(v for v in r["series"][0]["values"][0][1:]))'
}
sums() { # sums URL DB: per host, the sum of each field of cpu in DB
  curl -sf "$1/query" --data-urlencode "db=$2" --data-urlencode 'q=SELECT sum(*) FROM cpu GROUP BY hostname' |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["results"][0]; print(sorted((s["tags"]["hostname"], s["values"][0][1:]) for s in r["series"]))' | sha256sum
}

start_cluster src 20000
start_cluster dst 21000
src=http://127.0.0.1:20010 dst=http://127.0.0.1:21010
curl -sf -XPOST $src/query --data-urlencode "q=CREATE DATABASE bench WITH REPLICATION 2" >/dev/null
measure "load (strata bench)" "$bin" bench --url $src --db bench --create-db=false --file "$file" --workers 2 --batch-size 5000 --progress off \
  --ceiling=false --consistency all
want=$(count $src bench)
wantsums=$(sums $src bench)
echo "source: $want values in database bench (RF 2); load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$runs"); do
  echo "run $r (load average $(cut -d' ' -f1-3 /proc/loadavg)):"
  measure "backup (full)" "$bin" ctl --meta 127.0.0.1:20001 backup "$work/backup$r"
  echo "    size on disk: $(du -sh "$work/backup$r" | cut -f1)"
  measure "backup (incremental)" "$bin" ctl --meta 127.0.0.1:20001 backup "$work/backup$r"
  measure "restore (RF 1)" "$bin" ctl --meta 127.0.0.1:21001 restore "$work/backup$r" --db restored$r --replication 1
  got=$(count $dst restored$r)
  [ "$got" = "$want" ] || { echo "restored $got values, want $want"; exit 1; }
  [ "$(sums $dst restored$r)" = "$wantsums" ] || { echo "restored values differ from the source (sum per host and field)"; exit 1; }
  echo "    restored $got values, with the source's sum of every field of every host"
  rm -rf "$work/backup$r"
done
