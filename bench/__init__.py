"""`make bench`: the capacity benchmarks of issue 7, in one run on a fresh embedded stack.

`python -m bench` starts its own stack in a temporary directory, runs the phases (raw broker,
command side, projector, mirror, end to end, query API, recovery), and writes
bench/results/latest.json, latest.md and latest.png. THREADWEAVER_BENCH_* variables
(bench/config.py) shorten it for a smoke run. The modules named `*_proc` (and `load`,
`profile`) run as separate processes, so that a load generator never shares a process, nor
its interpreter lock, with what it measures.

The one-off scripts api_queries.py and mirror_write_methods.py still run on their own
(`.venv/bin/python bench/<script>.py --help`); `python -m bench.capacity` turns latest.json
into the tables of docs/capacity.md.
"""
