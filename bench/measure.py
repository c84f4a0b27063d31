#!/usr/bin/env python3
"""Times commands in alternation on the same load and prints ratios.

  measure.py --rounds R --baseline NAME NAME=COMMAND [NAME=COMMAND ...]

Each round runs every command once, in a fresh random order, with stdout to
/dev/null. For each command it reports the median wall time, the median CPU
time (user + system, from wait4's rusage) and the peak RSS (ru_maxrss, the
largest over the rounds), and each as a ratio to the baseline command's.
Output is a Markdown table.
"""
import argparse
import os
import random
import shlex
import statistics
import subprocess
import sys



HELPER = os.environ.get("RUSAGE_EXEC", "rusage_exec")


def run_once(cmd):
    # The helper forks and execs the command and reports its wall time, CPU
    # time and ru_maxrss alone (see bench/rusage_exec.c for why).
    out = subprocess.run([HELPER] + cmd, check=True, capture_output=True, text=True).stdout
    wall, cpu, rss, code = out.split()
    if int(code) not in (0, 1):
        print(f"warning: {cmd} exited {code}", file=sys.stderr)
    return float(wall), float(cpu), int(rss)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("commands", nargs="+")
    a = ap.parse_args()
    cmds = {}
    for c in a.commands:
        name, _, line = c.partition("=")
        cmds[name] = shlex.split(line)
    res = {n: ([], [], []) for n in cmds}
    for _ in range(a.warmup):
        for n, c in cmds.items():
            run_once(c)
    for _ in range(a.rounds):
        order = list(cmds)
        random.shuffle(order)
        for n in order:
            w, cpu, rss = run_once(cmds[n])
            res[n][0].append(w)
            res[n][1].append(cpu)
            res[n][2].append(rss)
    base = res[a.baseline]
    bw, bc, br = statistics.median(base[0]), statistics.median(base[1]), max(base[2])
    print("| command | wall (median) | × baseline | CPU (median) | × baseline | peak RSS | × baseline |")
    print("|---|---|---|---|---|---|---|")
    for n in cmds:
        w, c, r = statistics.median(res[n][0]), statistics.median(res[n][1]), max(res[n][2])
        print(f"| {n} | {w*1000:.1f} ms | {w/bw:.2f} | {c*1000:.1f} ms | {c/max(bc,1e-9):.2f} | {r/1024:.1f} MiB | {r/br:.2f} |")


if __name__ == "__main__":
    main()
