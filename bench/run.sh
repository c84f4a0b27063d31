#!/usr/bin/env bash
# Benchmarks procscope against ps, procs and the C floor on a realistic load.
#
#   bench/run.sh [N ...]        (default: 1000 3000; needs root, gcc, python3)
#
# Starts ../shared/bench/loadgen.py with N processes × 50 fds each, then times
# every command in alternation (bench/measure.py) and prints Markdown tables
# for docs/benchmarks.md. The load is always stopped, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
kit="${PROCSCOPE_SHARED:-../shared}/bench"
rounds="${ROUNDS:-15}"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 3000)

cargo build --release --quiet -p procscope
ps_bin="$PWD/target/release/procscope"
bin="$(sh "$kit/build.sh")"
gcc -O2 -Wall -o "$bin/rusage_exec" bench/rusage_exec.c
export RUSAGE_EXEC="$bin/rusage_exec"
if ! command -v procs >/dev/null 2>&1; then
  echo "installing procs (cargo install procs) for the comparison" >&2
  cargo install procs --locked --quiet
fi

trap 'python3 "$kit/loadgen.py" stop >/dev/null 2>&1 || true' EXIT
echo "# $(date -u +%FT%TZ) on $(nproc) cores, $(uname -r); procscope $(git rev-parse --short HEAD)"
for n in "${sizes[@]}"; do
  python3 "$kit/loadgen.py" start --n "$n" --m 50 >/dev/null
  total=$(ls -d /proc/[0-9]* | wc -l)
  echo
  echo "## N=$n holders × 50 fds ($total processes on the host), $rounds rounds"
  echo
  python3 bench/measure.py --rounds "$rounds" --baseline floor_ps \
    "floor_ps=$bin/floor_ps" \
    "procscope ps=$ps_bin ps" \
    "procscope ps --json=$ps_bin ps --json" \
    "procscope ps --timeout 0 (no guard)=$ps_bin --timeout 0 ps" \
    "ps -eo pid,user,stat,comm,args=ps -eo pid,user,stat,comm,args" \
    "ps aux=ps aux" \
    "procs=procs --color disable"
  echo
  echo "### fds and who-has (N=$n)"
  echo
  busy=$(cat "${PROCSCOPE_BENCH_DIR:-/tmp/procscope-bench}/run/busy.pid" 2>/dev/null || head -1 "${PROCSCOPE_BENCH_DIR:-/tmp/procscope-bench}/run/pids.txt" | cut -d' ' -f1)
  port_hex=$(awk 'NR==2 {split($2,a,":"); print a[2]}' /proc/net/tcp)
  port=$((16#$port_hex))
  file="${PROCSCOPE_BENCH_DIR:-/tmp/procscope-bench}/data/f0000.dat"
  python3 bench/measure.py --rounds "$rounds" --baseline floor_lsof \
    "floor_lsof=$bin/floor_lsof" \
    "procscope fds --all=$ps_bin fds --all" \
    "procscope fds --all --json=$ps_bin fds --all --json" \
    "lsof -n -P=lsof -n -P"
  echo
  python3 bench/measure.py --rounds "$rounds" --baseline "floor_lsof -l" \
    "floor_lsof -l=$bin/floor_lsof -l" \
    "procscope who-has :PORT=$ps_bin who-has :$port" \
    "ss -tanp=ss -tanp" \
    "procscope who-has FILE=$ps_bin who-has $file" \
    "fuser FILE=fuser $file"
  echo
  python3 bench/measure.py --rounds "$rounds" --baseline "floor_lsof -p" \
    "floor_lsof -p=$bin/floor_lsof -p $busy" \
    "procscope fds PID=$ps_bin fds $busy" \
    "procscope fds --peers none PID=$ps_bin fds --peers none $busy" \
    "procscope fds --peers all PID=$ps_bin fds --peers all $busy" \
    "lsof -p PID=lsof -n -P -p $busy"
  echo
  one=$(sed -n 2p "${PROCSCOPE_BENCH_DIR:-/tmp/procscope-bench}/run/pids.txt" | cut -d' ' -f1)
  python3 bench/measure.py --rounds "$rounds" --baseline "floor_lsof -p" \
    "floor_lsof -p=$bin/floor_lsof -p $one" \
    "procscope fds PID (one holder)=$ps_bin fds $one" \
    "procscope fds --peers all PID (one holder)=$ps_bin fds --peers all $one" \
    "lsof -p PID (one holder)=lsof -n -P -p $one"
  python3 "$kit/loadgen.py" stop >/dev/null
done
