"""hubbub benchmarks: a load generator and scenarios, results in docs/benchmarks.md.

    .venv/bin/python -m bench calibrate   # the load generator's own ceiling
    .venv/bin/python -m bench fanout      # 1000-member channel: deliveries/s, latency
    .venv/bin/python -m bench idle        # idle connections: server RSS and CPU

Add `--quick` to any of them for a smoke run of a few seconds.

The server runs pinned to core 0 and the load generator (a separate process,
`bench.gen`) to core 1. Everything talks to 127.0.0.1 only, and every run is
bounded in time and stops by itself.
"""
