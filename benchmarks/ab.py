"""Two commands timed side by side as whole processes, alternating, as every A/B figure in
RESULTS.md is given: medians of wall time, CPU time (user + system, children included) and
peak RSS per side, and the A/B ratio of each round (< 1: A is faster).

    python benchmarks/ab.py -n 5 --vs "sha256sum big.bin" -- python -m archiver audit -q
    python benchmarks/ab.py -n 3 --warmup 1 --vs "B command" -- A command...

Rounds alternate which side runs first, so drift on a shared machine hits both; the load
average is printed with the figures, since a ratio taken at load 8 is not one taken at 1.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from measure import alternate, median


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", "--rounds", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs of each side first")
    ap.add_argument("--vs", required=True, help="the B command, one shell-quoted string")
    ap.add_argument("a", nargs=argparse.REMAINDER, help="-- the A command")
    args = ap.parse_args(argv)
    a = args.a[1:] if args.a[:1] == ["--"] else args.a
    if not a:
        ap.error("give the A command after --")
    b = shlex.split(args.vs)
    runs_a, runs_b = alternate(a, b, args.rounds, args.warmup)
    samples = {"A": runs_a, "B": runs_b}
    print(f"load average {os.getloadavg()[0]:.2f}; {args.rounds} rounds, alternating")
    for name, cmd in (("A", a), ("B", b)):
        runs = samples[name]
        print(f"{name}: wall {median([s.seconds for s in runs]):.3f} s, "
              f"CPU {median([s.cpu_seconds for s in runs]):.3f} s, "
              f"peak RSS {median([s.peak_rss_mb for s in runs]):.0f} MB  "
              f"({' '.join(cmd)[:100]})")
    wall = [x.seconds / y.seconds for x, y in zip(samples["A"], samples["B"], strict=True)]
    cpu = [x.cpu_seconds / y.cpu_seconds
           for x, y in zip(samples["A"], samples["B"], strict=True) if y.cpu_seconds]
    print(f"A/B wall {median(wall):.2f} (rounds {', '.join(f'{r:.2f}' for r in wall)}); "
          f"A/B CPU {median(cpu):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
