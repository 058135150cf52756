"""Summarize py-spy collapsed stacks (`py-spy record --format raw`):

    python -m bench.profile PROFILE.txt [--top 30] [--match TEXT]

prints the functions with the most samples on top of the stack (self) and
anywhere in it (inclusive), as a share of all samples.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys

_LINE = re.compile(r" \(([^()]*):\d+\)$")


def frame_name(frame: str) -> str:
    """`write (asyncio/x.py:12)` -> `write (asyncio/x.py)`: merge lines of one function."""
    return _LINE.sub(r" (\1)", frame.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--match", help="only stacks containing this text")
    args = parser.parse_args(argv)
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    with open(args.path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack or not count.isdigit():
                continue
            if args.match and args.match not in stack:
                continue
            n = int(count)
            frames = [frame_name(x) for x in stack.split(";") if x]
            total += n
            own[frames[-1]] += n
            for name in set(frames):
                incl[name] += n
    if not total:
        print("no samples")
        return 1
    for title, counter in (("self", own), ("inclusive", incl)):
        print(f"--- {title} (of {total} samples)")
        for name, n in counter.most_common(args.top):
            print(f"{100 * n / total:6.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
