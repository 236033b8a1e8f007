"""District-scale data generator and benchmarks (`make bench`); never part of `make test`.

`python -m bench.generate` fills a database with a seeded, deterministic district;
`python -m bench` generates (or reuses) it and runs every registered benchmark.
"""
