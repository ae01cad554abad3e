"""Benchmark tooling: leaderboards, model cost and the suite runner (used by ``tools/test.py``,
``tools/benchmark.py`` and ``tools/analyze_cost.py``).

One job per module:

* :mod:`.records`: the data types (:class:`RunRecord`, :class:`Stat`, :class:`Column`,
  :class:`CostSettings`);
* :mod:`.rundir`: one run's work dir and its state; :mod:`.collect`: runs found on disk;
* :mod:`.aggregate`: leaderboard, Δm, ranking, paired statistics, cost summaries;
* :mod:`.render`: text, Markdown, CSV, JSON, chart, cost reports;
* :mod:`.measure`: parameters, FLOPs, latency, training step;
* :mod:`.child`: child-process commands and their entry points (``python -m jdbench.benchmark ...``);
* :mod:`.report`: evaluate and measure what is missing, the leaderboard of a collection (``--compare``);
* :mod:`.evaluate`: one checkpoint on the test set;
* :mod:`.suite`: the suite config (:mod:`.suite.spec`) and its run (:mod:`.suite.runner`);
* :mod:`.config_utils`: ``--cfg-options`` for data, schedules and teachers; :mod:`.progress`: progress lines.
"""
from .aggregate import Leaderboard, build_leaderboard, paired_deltas
from .collect import Collection, collect, collect_dir, collect_suite
from .records import CostSettings, RunRecord, Stat, mean_std
from .suite import Suite, SuiteRunner

__all__ = [
    'Collection', 'CostSettings', 'Leaderboard', 'RunRecord', 'Stat', 'Suite', 'SuiteRunner', 'build_leaderboard',
    'collect', 'collect_dir', 'collect_suite', 'mean_std', 'paired_deltas'
]
