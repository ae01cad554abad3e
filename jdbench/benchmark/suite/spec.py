"""A suite config, loaded and checked: its models, runs, the options each run gets, and its manifest.

A suite is a Python config (``configs/benchmarks/*.py``; fields documented there and in ``docs/tools.md``);
:class:`~.runner.SuiteRunner` runs it.
"""
import json
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config

from jdbench.utils.checkpoint import atomic_write

from ..collect import MANIFEST
from ..config_utils import (data_cfg_options, flatten_options, load_model_config, schedule_cfg_options,
                            teacher_options)
from ..aggregate import DEFAULT_LEVEL, DEFAULT_TEACHER_MARGIN, check_level, margin_value
from ..records import DEFAULT_DM_METRICS, CostSettings, metric_columns
from ..report import LEADERBOARD_METRICS
from ..render import DEFAULT_CHART, FORMATS
from ..rundir import COST_FILE, METRICS_FILE

RUN_RECORD = 'suite_run.json'  # in each run's work dir: the config and options it was trained with
EVALUATE = ('val', 'test')
#: The keys of a suite's ``gap`` (:func:`~..aggregate.gap_closed`).
GAP_KEYS = ('low', 'high', 'metric')


@dataclass(frozen=True)
class ExtraEvaluation:
    """A further evaluation of every run's final weights on another loader of its config (a suite's
    ``extra_evaluations``): its metrics are recorded as ``<name>_<metric>`` (``source_mIoU``)."""
    name: str
    dataloader: str
    evaluator: Optional[str] = None

    @property
    def prefix(self) -> str:
        return f'{self.name}_'

    def metrics_path(self, work_dir: str) -> str:
        """Where its metrics of one run are kept (merged into the run's ``metrics.json``)."""
        return osp.join(work_dir, f'metrics_{self.name}.json')


@dataclass
class ModelSpec:
    """A model the suite trains: name, config, role and how long/with which seeds."""
    name: str
    config: str
    role: str
    max_iters: int
    seeds: List[int]
    cfg_options: Dict = field(default_factory=dict)


@dataclass
class RunSpec:
    """One training run (a model and a seed) and its work dir."""
    model: ModelSpec
    seed: int
    work_dir: str

    @property
    def label(self) -> str:
        return f'{self.model.name} seed {self.seed}'

    @property
    def metrics_path(self) -> str:
        return osp.join(self.work_dir, METRICS_FILE)


def _model_entry(name: str, entry) -> dict:
    if isinstance(entry, str):
        return dict(config=entry)
    if isinstance(entry, dict) and entry.get('config'):
        return dict(entry)
    raise ValueError(
        f'suite model {name!r}: give a config path or dict(config=..., cfg_options=..., max_iters=...), '
        f'got {entry!r}')


class Suite:
    """A loaded, checked suite config."""

    def __init__(self, cfg: Config, path: str = '<dict>') -> None:
        self.cfg, self.path = cfg, path
        self.name = cfg.get('name') or osp.splitext(osp.basename(path))[0]
        self.out_dir = cfg.get('out_dir') or osp.join('work_dirs', 'benchmarks', self.name)
        self.teacher_work_dir = cfg.get('teacher_work_dir') or osp.join(self.out_dir, 'teachers')
        self.seeds = [int(s) for s in cfg.get('seeds') or []]
        iters = cfg.get('max_iters') or {}
        if not isinstance(iters, dict) or not {'teacher', 'student'} <= set(iters):
            raise ValueError(f'{path}: max_iters must be dict(teacher=N, student=N), got {iters!r}')
        self.evaluate = cfg.get('evaluate', 'test')
        if self.evaluate not in EVALUATE:
            raise ValueError(f'{path}: evaluate must be one of {EVALUATE}, got {self.evaluate!r}')
        if not self.seeds:
            raise ValueError(f'{path}: seeds is empty; give e.g. seeds=[0]')
        self.references = {k: list(v) for k, v in (cfg.get('references') or {}).items()}
        self.dm_metrics = list(cfg.get('dm_metrics') or DEFAULT_DM_METRICS)
        self.data = dict(cfg.get('data') or {})
        self.cfg_options = flatten_options(cfg.get('cfg_options') or {})
        cost = dict(cfg.get('cost') or {})
        self.cost_enabled = bool(cost.pop('enabled', True))
        try:
            self.cost = CostSettings.from_dict(cost)
        except (TypeError, ValueError) as err:
            raise ValueError(f'{path}: cost: {err}') from None
        self.cost_compare = cfg.get('cost_compare')
        self.leaderboard = {
            **dict(sort_by=None, formats=list(FORMATS), chart=DEFAULT_CHART, paired=[], level=DEFAULT_LEVEL),
            **(cfg.get('leaderboard') or {})
        }
        self._check_leaderboard()
        self.teacher_margin = cfg.get('teacher_margin', DEFAULT_TEACHER_MARGIN)
        try:
            margin_value(self.teacher_margin)
        except (TypeError, ValueError) as err:
            raise ValueError(f'{path}: {err}') from None
        self.extra_evaluations = self._extra_evaluations(cfg.get('extra_evaluations'))
        self.models = self._models(iters)
        self.all_models = list(self.models)  # before select(): every model whose latency shares one session
        self._check_names()
        self.gap = self._gap(cfg.get('gap'))
        self._cfg_cache: Dict[str, Config] = {}

    def _extra_evaluations(self, entries) -> List[ExtraEvaluation]:
        out = []
        example = "extra_evaluations=dict(source=dict(dataloader='source_val_dataloader', " \
                  "evaluator='source_val_evaluator'))"
        if not isinstance(entries or {}, dict):
            raise ValueError(f'{self.path}: extra_evaluations must be a dict, e.g. {example}; got {entries!r}')
        for name, entry in (entries or {}).items():
            if entry is None:
                continue
            if not isinstance(entry, dict) or not isinstance(entry.get('dataloader'), str) or \
                    set(entry) - {'dataloader', 'evaluator'} or not str(name).isidentifier():
                raise ValueError(f'{self.path}: extra_evaluations.{name}: give dict(dataloader=<a loader of the '
                                 f'configs>, evaluator=<its evaluator, optional>) under a plain name, e.g. '
                                 f'{example}; got {entry!r}')
            out.append(ExtraEvaluation(str(name), entry['dataloader'], entry.get('evaluator')))
        return out

    def _gap(self, gap) -> Optional[dict]:
        if gap is None:
            return None
        if not isinstance(gap, dict) or not {'low', 'high'} <= set(gap) or set(gap) - set(GAP_KEYS):
            raise ValueError(f"{self.path}: gap must be dict(low=<method>, high=<method>[, metric='mIoU']), e.g. "
                             f"dict(low='source_only', high='oracle'); got {gap!r}")
        names = [m.name for m in self.models]
        unknown = [gap[k] for k in ('low', 'high') if gap[k] not in names]
        if unknown:
            raise ValueError(f'{self.path}: gap names {unknown}, which the suite does not train; models: {names}')
        if gap['low'] == gap['high']:
            raise ValueError(f"{self.path}: gap.low and gap.high are both {gap['low']!r}; name two methods")
        return dict(low=gap['low'], high=gap['high'], metric=gap.get('metric', 'mIoU'))

    def _check_leaderboard(self) -> None:
        lb = self.leaderboard
        unknown = sorted(set(lb) - {'sort_by', 'formats', 'chart', 'paired', 'level', 'metrics'})
        bad = [f for f in lb['formats'] if f not in FORMATS]
        if unknown or bad:
            what = (f'unknown key(s) {unknown} (known: sort_by, formats, chart, paired, level, metrics)'
                    if unknown else f'unknown format(s) {bad} (known: {FORMATS})')
            raise ValueError(f'{self.path}: leaderboard: {what}')
        if isinstance(lb['paired'], str):
            lb['paired'] = [lb['paired']]
        try:
            check_level(lb['level'])
        except (TypeError, ValueError) as err:
            raise ValueError(f'{self.path}: leaderboard.level: {err}') from None
        if lb.get('metrics') is not None:
            if isinstance(lb['metrics'], str):
                lb['metrics'] = [lb['metrics']]
            try:
                metric_columns(lb['metrics'])
            except ValueError as err:
                raise ValueError(f'{self.path}: leaderboard.metrics: {err}') from None
            lb['metrics'] = list(lb['metrics'])

    # ----------------------------------------------------------------------------- loading
    @classmethod
    def from_file(cls,
                  path: str,
                  quick: bool = False,
                  cfg_options: Optional[dict] = None,
                  methods: Optional[Sequence[str]] = None,
                  seeds: Optional[Sequence[int]] = None,
                  out_dir: Optional[str] = None) -> 'Suite':
        """Load a suite config; ``quick`` (or ``apply_quick=True`` in the file) merges its ``quick`` dict."""
        if not osp.isfile(path):
            raise FileNotFoundError(f'suite config {path!r} not found; suites live in configs/benchmarks/')
        cfg = Config.fromfile(path)
        if quick or cfg.get('apply_quick'):
            if not cfg.get('quick'):
                raise ValueError(f'{path} defines no quick variant (a `quick = dict(...)` of overrides)')
            cfg.merge_from_dict(flatten_options(cfg.quick))
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
        if seeds:
            cfg.seeds = [int(s) for s in seeds]
        if out_dir:
            cfg.out_dir = out_dir
        suite = cls(cfg, path)
        if methods:
            suite.select(methods)
        return suite

    def _models(self, iters: dict) -> List[ModelSpec]:
        ref_names = {n for names in self.references.values() for n in names}
        models = []
        for name, entry in (self.cfg.get('teachers') or {}).items():
            if entry is None:
                continue
            e = _model_entry(name, entry)
            models.append(
                ModelSpec(name, e['config'], 'teacher', int(e.get('max_iters') or iters['teacher']),
                          [int(e.get('seed', self.cfg.get('teacher_seed', 0)))],
                          flatten_options(e.get('cfg_options'))))
        for name, entry in (self.cfg.get('methods') or {}).items():
            if entry is None:  # dropped by an override
                continue
            e = _model_entry(name, entry)
            role = e.get('role') or ('reference' if name in ref_names else 'method')
            models.append(
                ModelSpec(name, e['config'], role, int(e.get('max_iters') or iters['student']),
                          list(self.seeds), flatten_options(e.get('cfg_options'))))
        if not [m for m in models if m.role != 'teacher']:
            raise ValueError(f'{self.path}: methods is empty')
        return models

    def _check_names(self) -> None:
        names = [m.name for m in self.models]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(
                f'{self.path}: model name(s) {dup} used twice (teachers and methods share one namespace)')
        for ref, members in self.references.items():
            unknown = [n for n in members if n not in names]
            if unknown:
                raise ValueError(
                    f'{self.path}: reference {ref!r} names {unknown}, which the suite does not train; '
                    f'models: {names}')

    def select(self, names: Sequence[str]) -> None:
        """Keep only some methods (teachers and Δm references stay: the others need them)."""
        known = [m.name for m in self.models]
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(f'unknown method(s) {unknown}; the suite has {known}')
        self.models = [m for m in self.models if m.name in names or m.role in ('teacher', 'reference')]

    def check_configs(self) -> None:
        """Every model's config exists, every distiller's teachers are trained by the suite, and every extra
        evaluation's loader is in at least one config."""
        missing = [f'{m.name}: {m.config}' for m in self.models if not osp.isfile(m.config)]
        if missing:
            raise FileNotFoundError('config(s) of the suite not found:\n  ' + '\n  '.join(missing))
        for model in self.models:
            try:
                self.teacher_options(model)
            except ValueError as err:
                raise ValueError(f'{self.path}: method {model.name!r}: {err}') from None
        for extra in self.extra_evaluations:
            if not any(extra in self.extra_evaluations_of(m) for m in self.models):
                raise ValueError(f'{self.path}: extra_evaluations.{extra.name}: no config of the suite has '
                                 f'{extra.dataloader!r} (and {extra.evaluator or "test_evaluator"!r}); name a '
                                 'loader the configs define, e.g. source_val_dataloader')

    def extra_evaluations_of(self, model: ModelSpec) -> List[ExtraEvaluation]:
        """The extra evaluations that apply to a model: those whose loader and evaluator its config has (a
        config without them, e.g. a teacher on other data, is evaluated on its test set only)."""
        cfg = self.model_config(model)
        return [e for e in self.extra_evaluations
                if isinstance(cfg.get(e.dataloader), dict) and cfg.get(e.evaluator or 'test_evaluator') is not None]

    # ----------------------------------------------------------------------------- runs and options
    def runs(self) -> List[RunSpec]:
        """Teachers first, then seed by seed every method (a full first-seed leaderboard comes early)."""
        out = [
            RunSpec(m, m.seeds[0], self.work_dir(m, m.seeds[0])) for m in self.models if m.role == 'teacher'
        ]
        for seed in self.seeds:
            out += [
                RunSpec(m, seed, self.work_dir(m, seed)) for m in self.models
                if m.role != 'teacher' and seed in m.seeds
            ]
        return out

    def work_dir(self, model: ModelSpec, seed: int) -> str:
        if model.role == 'teacher':  # {teacher_work_dir}/<config name>/, shared by suites with that dir
            return osp.join(self.teacher_work_dir, osp.splitext(osp.basename(model.config))[0])
        return osp.join(self.out_dir, model.name, f'seed{seed}')

    def model_config(self, model: ModelSpec) -> Config:
        if model.config not in self._cfg_cache:
            self._cfg_cache[model.config] = load_model_config(model.config)
        return self._cfg_cache[model.config]

    def teacher_options(self, model: ModelSpec) -> Dict:
        """A distiller's teacher checkpoints (and trajectory files): the runs of the suite's teachers."""
        trained = {m.config: self.work_dir(m, m.seeds[0]) for m in self.models if m.role == 'teacher'}
        return teacher_options(self.model_config(model), trained)

    def common_options(self, model: ModelSpec) -> Dict:
        """Options for every command of a model: data size, teacher runs, the suite's and the model's."""
        return {
            **data_cfg_options(self.model_config(model), self.data),
            **self.teacher_options(model),
            **self.cfg_options,
            **model.cfg_options
        }

    def extra_eval_options(self, model: ModelSpec, extra: ExtraEvaluation) -> Dict:
        """The options of an extra evaluation: :meth:`common_options`, and the data block's ``num_workers`` for
        its loader (which data_cfg_options leaves alone: it is not a train/val/test loader)."""
        cfg, out = self.model_config(model), {}
        workers = self.data.get('num_workers')
        loader = cfg.get(extra.dataloader) or {}
        if workers is not None and 'num_workers' in loader:
            out[f'{extra.dataloader}.num_workers'] = int(workers)
            if int(workers) == 0 and 'persistent_workers' in loader:
                out[f'{extra.dataloader}.persistent_workers'] = False
        return {**self.common_options(model), **out}

    def train_options(self, run: RunSpec) -> Dict:
        cfg = self.model_config(run.model)
        val = self.cfg.get('val_interval') or run.model.max_iters
        sched = schedule_cfg_options(
            cfg, run.model.max_iters, min(int(val), run.model.max_iters),
            self.cfg.get('checkpoint_interval') or min(int(val), run.model.max_iters),
            self.cfg.get('log_interval'), bool(self.cfg.get('scale_schedule', True)))
        return {'randomness.seed': run.seed, **sched, **self.common_options(run.model)}

    def manifest(self) -> dict:
        extra = {LEADERBOARD_METRICS: self.leaderboard['metrics']} if self.leaderboard.get('metrics') else {}
        if self.gap:
            extra['gap'] = self.gap
        return dict(
            name=self.name,
            suite_config=self.path,
            out_dir=self.out_dir,
            teacher_work_dir=self.teacher_work_dir,
            seeds=self.seeds,
            evaluate=self.evaluate,
            references=self.references,
            dm_metrics=self.dm_metrics,
            cost_compare=self.cost_compare,
            teacher_margin=self.teacher_margin,
            models=[
                dict(
                    name=m.name,
                    role=m.role,
                    config=m.config,
                    max_iters=m.max_iters,
                    cost=osp.join(self.out_dir, m.name, COST_FILE),
                    runs=[dict(seed=r.seed, work_dir=r.work_dir) for r in self.runs() if r.model is m])
                for m in self.models
            ],
            **extra)

    def write_manifest(self) -> str:
        """Write ``suite.json``, merged with the one already in the folder.

        Runs of a subset (``--methods``, ``--seeds``) or of another suite sharing the folder (the ablations beside
        the full comparison) add their models and seeds to what is listed; nothing listed is dropped.
        """
        os.makedirs(self.out_dir, exist_ok=True)
        path = osp.join(self.out_dir, MANIFEST)
        manifest = self.manifest()
        if osp.isfile(path):
            with open(path) as f:
                try:
                    old = json.load(f)
                except json.JSONDecodeError as err:
                    raise ValueError(f'{path} is damaged ({err}); it only lists the runs of the folder, which are '
                                     'kept: delete it and rerun the suite to rebuild it') from err
            manifest = merge_manifests(old, manifest)
        with atomic_write(path, 'w') as f:   # a kill never leaves a half-written manifest
            json.dump(manifest, f, indent=2)
        return path


def merge_manifests(old: dict, new: dict) -> dict:
    """``new`` plus the models and seeds that only ``old`` lists (``new`` wins where both describe a run)."""
    models = {m['name']: dict(m) for m in old.get('models', [])}
    for model in new['models']:
        runs = {r['seed']: r for r in models.get(model['name'], {}).get('runs', [])}
        runs.update({r['seed']: r for r in model['runs']})
        models[model['name']] = dict(model, runs=[runs[seed] for seed in sorted(runs)])
    order = [m['name'] for m in new['models']] + [n for n in models if n not in {m['name'] for m in new['models']}]
    seeds = sorted(set(old.get('seeds', [])) | set(new['seeds']))
    return dict(new, seeds=seeds, models=[models[name] for name in order])
