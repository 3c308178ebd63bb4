#!/usr/bin/env bash
# The long fault campaign (issue 16): runs internal/chaos's TestCampaign
# for --duration per seed on real processes (3 meta, 3 data, RF 2 and RF 3
# databases) and writes a markdown report: the command, the commit, the
# machine's load, then per seed the faults injected by kind, points
# acknowledged / refused / unknown per consistency level, the convergence
# time distribution and every checker's verdict.
#
#   scripts/chaos.sh [--duration 1h] [--seeds 1] [--report FILE] [--no-race]
#                    [--data-nodes 3] [--faults-per-round 3] [--tmpfs-mib 1024]
#
# data0's directory is a tmpfs of --tmpfs-mib (an hour of load must fit in
# it between disk-full faults). The strata processes are built with the race detector unless --no-race.
# The report goes to FILE (default chaos-report-<UTC time>.md in the
# current directory); the test's full log beside it (FILE.log), and the
# processes' logs under FILE.logs/. Exit status is the
# test's: non-zero when any checker failed.
set -euo pipefail
duration=1h seeds=1 report="" race=true nodes=3 per=3 tmpfs=1024
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --report) report=$2; shift 2 ;;
    --no-race) race=false; shift ;;
    --data-nodes) nodes=$2; shift 2 ;;
    --faults-per-round) per=$2; shift 2 ;;
    --tmpfs-mib) tmpfs=$2; shift 2 ;;
    *) echo "usage: $0 [--duration 1h] [--seeds 1,2] [--report FILE] [--no-race] [--data-nodes N] [--faults-per-round N] [--tmpfs-mib N]" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
report=${report:-chaos-report-$(date -u +%Y%m%dT%H%M%SZ).md}
case "$report" in /*) ;; *) report="$PWD/$report" ;; esac

cmd="go test ./internal/chaos -run TestCampaign -count=1 -v -timeout 0 -chaos.duration=$duration -chaos.seeds=$seeds -chaos.race=$race -chaos.data-nodes=$nodes -chaos.faults-per-round=$per -chaos.tmpfs-mib=$tmpfs -chaos.report=$report -chaos.logs=$report.logs"
{
  echo "## Fault campaign $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "- command: \`scripts/chaos.sh --duration $duration --seeds $seeds$([ "$race" = false ] && echo ' --no-race')\`"
  echo "  (runs \`$cmd\`)"
  echo "- commit: $(git -C "$root" rev-parse HEAD)$(git -C "$root" diff --quiet HEAD || echo ' (with uncommitted changes)')"
  echo "- machine: $(nproc) cores, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
} >"$report"
set +e
(cd "$root" && $cmd) >"$report.log" 2>&1
status=$?
set -e
{
  echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg); go test exit status $status"
  echo
} >>"$report"
echo "report: $report (log: $report.log)"
exit $status
