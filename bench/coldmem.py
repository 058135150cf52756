"""How much it costs to touch memory that sat unused for a while.

    python -m bench.coldmem [--objects 19000] [--idle 0,1,5,15]

Builds N small objects (about what a connection owns: an object, a dict, a
set, a list) and times one pass over them right away and after the process
slept. On a bare-metal machine the pass costs about the same every time; on
the VMs we measure on it costs 10-25x more after a second of idling, which is
why an idle server's CPU per heartbeat is far above what the same code costs
in a loop (docs/benchmarks.md, "Idle").
"""

from __future__ import annotations

import argparse
import time


class Conn:
    def __init__(self, i: int) -> None:
        self.i = i
        self.d = {"a": i}
        self.s: set[int] = set()
        self.l = [i] * 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=19000)
    parser.add_argument("--idle", default="0,1,5,15", help="seconds to sleep before each pass")
    args = parser.parse_args()
    objs = {Conn(i) for i in range(args.objects)}
    # Other memory the process owns, as a server's would be (about 300 MB).
    other = [bytearray(1000) for _ in range(300_000)]
    for idle in (float(s) for s in args.idle.split(",")):
        time.sleep(idle)
        t = time.perf_counter()
        touched = sum(1 for o in objs if o.i >= 0 and o.d)
        ms = (time.perf_counter() - t) * 1000
        print(
            f"after {idle:g} s idle: one pass over {touched} objects {ms:.2f} ms "
            f"({ms * 1000 / touched:.2f} us each)"
        )
    del other


if __name__ == "__main__":
    main()
