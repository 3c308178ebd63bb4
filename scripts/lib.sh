# Shared prologue of the benchmark scripts (source it): the repository
# root, the data FILE (default ../shared/data/tsbs-cpu-only-s100-1d.lp.gz;
# a script that generates its data sets generated_data=1 first), a work directory removed on exit with every process in pids killed, the
# strata binary built into it (or STRATA_BIN copied) as $bin, wait_http URL, free_port (a free
# loopback TCP port) and cpu_seconds PID (user + system CPU of a process).
root=$(cd "$(dirname "$0")/.." && pwd)
file=${FILE:-$root/../shared/data/tsbs-cpu-only-s100-1d.lp.gz}
# A git worktree under a sibling directory finds the data one level up.
[ -n "${FILE:-}" ] || [ -f "$file" ] || file=$root/../../shared/data/tsbs-cpu-only-s100-1d.lp.gz
[ -n "${generated_data:-}" ] || [ -f "$file" ] || { echo "data file $file not found (set FILE)"; exit 1; }
work=$(mktemp -d)
bin=$work/strata
# STRATA_BIN, when set, is a strata binary to run instead (A/B of two builds).
if [ -n "${STRATA_BIN:-}" ]; then cp "$STRATA_BIN" "$bin"; else (cd "$root" && CGO_ENABLED=0 go build -o "$bin" ./cmd/strata); fi
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
wait_http() { for _ in $(seq 300); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done; echo "timeout waiting for $1"; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"; }
