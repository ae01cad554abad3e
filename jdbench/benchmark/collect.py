"""Find run results on disk: a suite folder (``suite.json``), ``<method>/seed<k>/`` folders, or work dirs.

Layout written by the suite runner (and understood for hand-made folders too)::

    OUT/suite.json                     manifest: models (role, config, work dirs), Δm references, cost groups
    OUT/<method>/seed<k>/metrics.json  metrics of one run ({name: float}, as test.py --metrics-out writes)
    OUT/<method>/seed<k>/final.pth     the trained (student) weights
    OUT/<method>/cost.json             tools/analyze_cost.py output for the method
"""
import glob
import json
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from .leaderboard import DEFAULT_DM_METRICS, RunRecord

MANIFEST = 'suite.json'
METRICS_FILE = 'metrics.json'
COST_FILE = 'cost.json'
FINAL_CKPT = 'final.pth'
SEED_DIR = re.compile(r'seed[_-]?(\d+)$')


@dataclass
class Collection:
    """Runs found on disk, with what the leaderboard needs beside them."""
    runs: List[RunRecord] = field(default_factory=list)
    expected: Dict[str, int] = field(default_factory=dict)
    cost_paths: Dict[str, str] = field(default_factory=dict)  # method -> cost.json (may not exist yet)
    cost_configs: Dict[str, str] = field(default_factory=dict)  # method -> config to measure it with
    references: Dict[str, List[str]] = field(default_factory=dict)
    dm_metrics: List[str] = field(default_factory=lambda: list(DEFAULT_DM_METRICS))
    cost_compare: Optional[dict] = None
    notes: List[str] = field(default_factory=list)

    def extend(self, other: 'Collection') -> None:
        seen = {(r.method, r.seed) for r in self.runs}
        for run in other.runs:
            if (run.method, run.seed) in seen:
                self.notes.append(f'{run.method} seed {run.seed} found twice; kept the first ({run.work_dir} '
                                  'ignored).')
                continue
            seen.add((run.method, run.seed))
            self.runs.append(run)
        for k, v in other.expected.items():
            self.expected[k] = max(self.expected.get(k, 0), v)
        for k, v in other.cost_paths.items():
            self.cost_paths.setdefault(k, v)
        for k, v in other.cost_configs.items():
            self.cost_configs.setdefault(k, v)
        for k, v in other.references.items():
            self.references.setdefault(k, v)
        if other.references and not self.references:
            self.dm_metrics = other.dm_metrics
        self.cost_compare = self.cost_compare or other.cost_compare
        self.notes += other.notes

    def costs(self) -> Dict[str, dict]:
        """method -> cost record, for the cost files that exist."""
        out = {}
        for method, path in self.cost_paths.items():
            if osp.isfile(path):
                with open(path) as f:
                    out[method] = json.load(f)
        return out


# --------------------------------------------------------------------------------------------- metrics files
def read_metrics(path: str) -> Dict[str, float]:
    """A ``metrics.json`` as ``{name: float}``; clear errors for unreadable or non-numeric files."""
    try:
        with open(path) as f:
            data = json.load(f)
    except json.JSONDecodeError as err:
        raise ValueError(f'{path} is not valid JSON ({err}); delete it to evaluate the run again') from err
    if not isinstance(data, dict):
        raise ValueError(f'{path} should hold a JSON object {{metric: value}}, got {type(data).__name__}')
    out = {}
    for k, v in data.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = float(v)
    if not out:
        raise ValueError(f'{path} holds no numeric metrics')
    return out


def write_metrics(path: str, metrics: Dict[str, float]) -> None:
    import os
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump({k: float(v) for k, v in metrics.items()}, f, indent=2)
    os.replace(tmp, path)  # atomic: an interrupted write never leaves a half file that counts as finished


def find_config(work_dir: str) -> Optional[str]:
    """The config mmengine dumped into a work dir (``<config name>.py``), if any."""
    found = sorted(glob.glob(osp.join(work_dir, '*.py')))
    return found[0] if found else None


def has_checkpoint(work_dir: str) -> bool:
    """A resumable checkpoint exists (mmengine's ``last_checkpoint`` pointer or an ``iter_*.pth``)."""
    return osp.isfile(osp.join(work_dir, 'last_checkpoint')) or bool(
        glob.glob(osp.join(work_dir, 'iter_*.pth')))


def is_run_dir(path: str) -> bool:
    return osp.isdir(path) and (osp.isfile(osp.join(path, METRICS_FILE))
                                or osp.isfile(osp.join(path, FINAL_CKPT)) or has_checkpoint(path)
                                or bool(glob.glob(osp.join(path, '*', 'vis_data'))))


def run_record(work_dir: str,
               method: str,
               seed: Optional[int],
               role: str = 'method',
               config: Optional[str] = None) -> RunRecord:
    """A run's record: its metrics when ``metrics.json`` exists, else why not."""
    metrics_path = osp.join(work_dir, METRICS_FILE)
    ckpt = osp.join(work_dir, FINAL_CKPT)
    # the config mmengine dumped into the work dir carries the run's overrides (data, teachers): prefer it
    rec = RunRecord(method, seed, None, role, work_dir, find_config(work_dir) or config,
                    ckpt if osp.isfile(ckpt) else None, metrics_path=metrics_path)
    if osp.isfile(metrics_path):
        rec.metrics = read_metrics(metrics_path)
    elif rec.checkpoint:
        rec.error = f'not evaluated yet ({FINAL_CKPT} present, no {METRICS_FILE})'
    elif osp.isdir(work_dir):
        rec.error = f'training unfinished (no {FINAL_CKPT} in {work_dir})'
    else:
        rec.error = f'not started ({work_dir} does not exist)'
    return rec


# ------------------------------------------------------------------------------------------------ discovery
def collect_suite(out_dir: str) -> Collection:
    """Runs, references and cost files of a suite folder, from its ``suite.json``."""
    with open(osp.join(out_dir, MANIFEST)) as f:
        manifest = json.load(f)
    col = Collection(
        references={
            k: list(v)
            for k, v in (manifest.get('references') or {}).items()
        },
        dm_metrics=list(manifest.get('dm_metrics') or DEFAULT_DM_METRICS),
        cost_compare=manifest.get('cost_compare'))
    for model in manifest['models']:
        name = model['name']
        for run in model['runs']:
            col.runs.append(
                run_record(run['work_dir'], name, run.get('seed'), model.get('role', 'method'),
                           model.get('config')))
        col.expected[name] = len(model['runs'])
        col.cost_paths[name] = model.get('cost') or osp.join(out_dir, name, COST_FILE)
        config = next((r.config for r in col.runs if r.method == name and r.config), model.get('config'))
        if config:
            col.cost_configs[name] = config
    return col


def _method_and_seed(work_dir: str) -> tuple:
    base = osp.basename(osp.normpath(work_dir))
    match = SEED_DIR.search(base)
    if match:
        return osp.basename(osp.dirname(osp.normpath(work_dir))), int(match.group(1))
    return base, None


def _add_run(col: Collection, work_dir: str, cost_dir: str) -> None:
    method, seed = _method_and_seed(work_dir)
    rec = run_record(work_dir, method, seed)
    col.runs.append(rec)
    col.expected[method] = col.expected.get(method, 0) + 1
    col.cost_paths.setdefault(method, osp.join(cost_dir, COST_FILE))
    if rec.config:
        col.cost_configs.setdefault(method, rec.config)


def collect_dir(path: str) -> Collection:
    """Runs under a path: a suite folder, a single work dir, or ``<method>/[seed<k>/]`` sub-folders."""
    if not osp.exists(path):
        raise FileNotFoundError(f'{path!r} does not exist')
    if not osp.isdir(path):
        raise ValueError(f'{path!r} is a file; give a suite output folder or a work dir (for a checkpoint, '
                         'give its config too: CONFIG.py CHECKPOINT.pth)')
    if osp.isfile(osp.join(path, MANIFEST)):
        return collect_suite(path)
    col = Collection()
    if is_run_dir(path):
        _, seed = _method_and_seed(path)
        _add_run(col, path, osp.dirname(osp.normpath(path)) if seed is not None else path)
        return col
    for child in sorted(glob.glob(osp.join(path, '*', ''))):
        child = osp.normpath(child)
        if is_run_dir(child):
            _add_run(col, child, child)
            continue
        seeds = [
            osp.normpath(d) for d in sorted(glob.glob(osp.join(child, '*', '')))
            if SEED_DIR.search(osp.basename(osp.normpath(d))) and is_run_dir(d)
        ]
        for d in sorted(seeds, key=lambda d: _method_and_seed(d)[1]):
            _add_run(col, d, child)
    if not col.runs:
        raise ValueError(f'no results in {path!r}: expected a suite folder ({MANIFEST}), a work dir with '
                         f'{METRICS_FILE} or {FINAL_CKPT}, or <method>/seed<k>/ folders holding them')
    return col


def collect(paths: Sequence[str]) -> Collection:
    """All runs under several paths (first occurrence of a method/seed wins)."""
    col = Collection()
    for path in paths:
        col.extend(collect_dir(path))
    return col
