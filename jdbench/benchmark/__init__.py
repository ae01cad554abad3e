"""Benchmark tooling: the suite runner, leaderboards, model cost and plots (used by ``tools/benchmark.py``,
``tools/test.py --compare``, ``tools/analyze_cost.py`` and ``tools/visualize.py``)."""
from .collect import Collection, collect, collect_dir, collect_suite, read_metrics
from .cost import (analyze_config, combine_summaries, compare_costs, cost_summary, count_flops,
                   count_parameters, deployed_model, measure_latency, parameter_breakdown)
from .leaderboard import (Leaderboard, RunRecord, Stat, build_leaderboard, export_leaderboard, mean_std,
                          read_leaderboard)
from .suite import Suite, SuiteRunner

__all__ = [
    'Collection', 'collect', 'collect_dir', 'collect_suite', 'read_metrics', 'analyze_config',
    'combine_summaries', 'compare_costs', 'cost_summary', 'count_flops', 'count_parameters', 'deployed_model',
    'measure_latency', 'parameter_breakdown', 'Leaderboard', 'RunRecord', 'Stat', 'build_leaderboard',
    'export_leaderboard', 'mean_std', 'read_leaderboard', 'Suite', 'SuiteRunner'
]
