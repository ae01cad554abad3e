"""The benchmark suite: a config of teachers, methods and seeds (:mod:`.spec`) and the resumable run of it
(:mod:`.runner`, ``tools/benchmark.py``)."""
from .runner import SuiteRunner, run_state
from .spec import ModelSpec, RunSpec, Suite, merge_manifests

__all__ = ['ModelSpec', 'RunSpec', 'Suite', 'SuiteRunner', 'merge_manifests', 'run_state']
