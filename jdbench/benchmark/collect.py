"""Find run results on disk: a suite folder (``suite.json``), ``<method>/seed<k>/`` folders, or work dirs.

Layout written by the suite runner (and understood for hand-made folders too; a run dir: :mod:`.rundir`)::

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
from typing import Dict, List, Optional, Sequence, Tuple

from .records import DEFAULT_DM_METRICS, RunRecord
from .rundir import COST_FILE, FINAL_CKPT, METRICS_FILE, is_run_dir, read_metrics, run_record

MANIFEST = 'suite.json'
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
                out[method] = read_json(path, 'a cost record of tools/analyze_cost.py', 'delete it and rerun '
                                        'the suite (or tools/test.py --compare) to measure the cost again')
        return out


def read_json(path: str, what: str, fix: str) -> dict:
    """A JSON object from ``path``; a ValueError that names the file, ``what`` it is and how to ``fix`` it
    when it is damaged or not an object."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f'{path} is damaged: it should hold {what}, but is not valid JSON ({err}); '
                         f'{fix}.') from err
    if not isinstance(data, dict):
        raise ValueError(f'{path} is damaged: it should hold {what} (a JSON object), got '
                         f'{type(data).__name__}; {fix}.')
    return data


# ------------------------------------------------------------------------------------------------ discovery
def _is_model_entry(entry: object) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get('name'), str) and isinstance(
        entry.get('runs'), list) and all(isinstance(r, dict) and 'work_dir' in r for r in entry['runs'])


def collect_suite(out_dir: str) -> Collection:
    """Runs, references and cost files of a suite folder, from its ``suite.json``."""
    path = osp.join(out_dir, MANIFEST)
    fix = ('rerun the suite (tools/benchmark.py SUITE_CONFIG) to write it again, or delete it to compare the '
           'run folders under ' + out_dir + ' without it')
    manifest = read_json(path, 'the suite\'s manifest', fix)
    models = manifest.get('models')
    if not isinstance(models, list) or not all(_is_model_entry(m) for m in models):
        raise ValueError(f'{path} is damaged: "models" should be a list of {{"name": ..., "runs": [{{"work_dir": '
                         f'..., "seed": ...}}]}}; {fix}.')
    col = Collection(
        references={
            k: list(v)
            for k, v in (manifest.get('references') or {}).items()
        },
        dm_metrics=list(manifest.get('dm_metrics') or DEFAULT_DM_METRICS),
        cost_compare=manifest.get('cost_compare'))
    for model in models:
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


# --------------------------------------------------------------------------------------- checkpoint groups
def split_compare_items(items: Sequence[str]) -> Tuple[List[str], List[Tuple[str, List[str]]]]:
    """Split ``--compare`` items into folders and ``(CONFIG.py, [CKPT.pth, ...])`` groups."""
    folders, groups, i = [], [], 0
    while i < len(items):
        item = items[i]
        if item.endswith('.py'):
            ckpts = []
            while i + 1 < len(items) and items[i + 1].endswith('.pth'):
                i += 1
                ckpts.append(items[i])
            if not ckpts:
                raise ValueError(f'config {item} needs a checkpoint after it: --compare {item} CKPT.pth')
            groups.append((item, ckpts))
        elif item.endswith('.pth'):
            raise ValueError(f'checkpoint {item} needs its config before it: --compare CONFIG.py {item}')
        else:
            folders.append(item)
        i += 1
    return folders, groups


def collect_checkpoints(config: str, ckpts: Sequence[str]) -> Collection:
    """The runs of one config's checkpoints (one seed each: ``seed<k>`` in the path, else the position).

    A checkpoint's metrics are stored beside it: ``metrics.json`` for ``final.pth``, ``metrics_<stem>.json``
    for others.
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f'config {config!r} not found')
    method = osp.splitext(osp.basename(config))[0]
    col = Collection()
    for k, ckpt in enumerate(ckpts):
        if not osp.isfile(ckpt):
            raise FileNotFoundError(f'checkpoint {ckpt!r} (for {config}) does not exist; train it first with '
                                    f'tools/train.py {config}, or fix the path')
        match = re.search(r'seed[_-]?(\d+)', ckpt)
        stem = osp.splitext(osp.basename(ckpt))[0]
        metrics_path = osp.join(
            osp.dirname(ckpt), METRICS_FILE if stem == 'final' else f'metrics_{stem}.json')
        rec = RunRecord(method, int(match.group(1)) if match else k, None, 'method', osp.dirname(ckpt), config,
                        ckpt, metrics_path=metrics_path)
        if osp.isfile(metrics_path):
            rec.metrics = read_metrics(metrics_path)
        else:
            rec.error = 'not evaluated'
        col.runs.append(rec)
    col.expected[method] = len(ckpts)
    col.cost_paths[method] = osp.join(osp.dirname(ckpts[0]), COST_FILE)
    col.cost_configs[method] = config
    return col


def collect_items(items: Sequence[str]) -> Collection:
    """All runs named by ``--compare`` items: folders and ``CONFIG.py CKPT.pth ...`` groups."""
    folders, groups = split_compare_items(items)
    col = collect(folders)
    for config, ckpts in groups:
        col.extend(collect_checkpoints(config, ckpts))
    return col
