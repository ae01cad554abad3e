"""``python -m jdbench.benchmark {train-cost,prepare-data,latency,evaluate} ...``: the benchmark's child processes
(:func:`jdbench.benchmark.child.main`)."""
import sys

from .child import main

sys.exit(main())
