"""``python -m bench``: run every scenario and write docs/benchmarks.md."""

from bench.run import main

main()
