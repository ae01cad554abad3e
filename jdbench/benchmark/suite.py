"""The benchmark suite: data, teachers, every method × seed, evaluation, cost and the leaderboard, resumable.

A suite is a Python config (``configs/benchmarks/*.py``; fields documented there and in ``docs/tools.md``).
:class:`SuiteRunner` turns it into child processes (``tools/train.py``, ``tools/test.py``,
``tools/analyze_cost.py``) through an injectable command runner, skipping what is finished:

* a run whose ``metrics.json`` exists is done;
* a run whose ``final.pth`` exists (or the checkpoint of its last iteration) is only evaluated;
* a run with a checkpoint in its work dir is continued with ``--resume``;
* a teacher whose ``{teacher_work_dir}/<config name>/final.pth`` exists is not trained again.
"""
import glob
import json
import os
import os.path as osp
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

from mmengine.config import Config

from .collect import (COST_FILE, FINAL_CKPT, MANIFEST, METRICS_FILE, collect_suite, has_checkpoint,
                      write_metrics)
from .commands import (CommandRunner, cost_command, data_command, latency_command, log_tail, run_command,
                       test_command, train_command)
from .config_utils import (data_cfg_options, flatten_options, load_model_config, schedule_cfg_options,
                           teacher_dir_options, to_cli_options)
from .leaderboard import DEFAULT_DM_METRICS, EXPORT_FORMATS, Leaderboard, export_leaderboard
from .progress import Progress, Work, format_duration
from .report import board_from_collection, cost_comparison, write_comparison
from .scalars import final_val_metrics

ROLES = ('teacher', 'reference', 'method')
RUN_RECORD = 'suite_run.json'  # in each run's work dir: the config and options it was trained with
EVALUATE = ('val', 'test')


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
        self.cost = {
            **dict(
                enabled=True,
                batch_size=1,
                warmup=5,
                repeats=20,
                train=True,
                train_iters=3,
                train_warmup=3,
                device='cpu',
                input_size=None),
            **(cfg.get('cost') or {})
        }
        self.cost_compare = cfg.get('cost_compare')
        self.leaderboard = {
            **dict(sort_by=None, formats=list(EXPORT_FORMATS), chart=('latency', 'delta_m')),
            **(cfg.get('leaderboard') or {})
        }
        self.models = self._models(iters)
        self._check_names()
        self._cfg_cache: Dict[str, Config] = {}

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
        missing = [f'{m.name}: {m.config}' for m in self.models if not osp.isfile(m.config)]
        if missing:
            raise FileNotFoundError('config(s) of the suite not found:\n  ' + '\n  '.join(missing))

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
        if model.role == 'teacher':  # where distillers look: {teacher_work_dir}/<config name>/final.pth
            return osp.join(self.teacher_work_dir, osp.splitext(osp.basename(model.config))[0])
        return osp.join(self.out_dir, model.name, f'seed{seed}')

    def model_config(self, model: ModelSpec) -> Config:
        if model.config not in self._cfg_cache:
            self._cfg_cache[model.config] = load_model_config(model.config)
        return self._cfg_cache[model.config]

    def common_options(self, model: ModelSpec) -> Dict:
        """Options for every command of a model: data size, teacher location, the suite's and the model's."""
        cfg = self.model_config(model)
        return {
            **data_cfg_options(cfg, self.data),
            **teacher_dir_options(cfg, self.teacher_work_dir),
            **self.cfg_options,
            **model.cfg_options
        }

    def train_options(self, run: RunSpec) -> Dict:
        cfg = self.model_config(run.model)
        val = self.cfg.get('val_interval') or run.model.max_iters
        sched = schedule_cfg_options(
            cfg, run.model.max_iters, min(int(val), run.model.max_iters),
            self.cfg.get('checkpoint_interval') or min(int(val), run.model.max_iters),
            self.cfg.get('log_interval'), bool(self.cfg.get('scale_schedule', True)))
        return {'randomness.seed': run.seed, **sched, **self.common_options(run.model)}

    def manifest(self) -> dict:
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
            models=[
                dict(
                    name=m.name,
                    role=m.role,
                    config=m.config,
                    max_iters=m.max_iters,
                    cost=osp.join(self.out_dir, m.name, COST_FILE),
                    runs=[dict(seed=r.seed, work_dir=r.work_dir) for r in self.runs() if r.model is m])
                for m in self.models
            ])

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
        with open(path, 'w') as f:
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


# ------------------------------------------------------------------------------------------------ run state
def trained_checkpoint(work_dir: str, max_iters: int) -> Optional[str]:
    """The weights of a finished training: ``final.pth``, else the checkpoint of the last iteration."""
    final = osp.join(work_dir, FINAL_CKPT)
    if osp.isfile(final):
        return final
    last = osp.join(work_dir, f'iter_{max_iters}.pth')
    return last if osp.isfile(last) else None


def resumed_iter(work_dir: str) -> int:
    """Iteration of the checkpoint a resume starts from (0 without one)."""
    pointer = osp.join(work_dir, 'last_checkpoint')
    names = []
    if osp.isfile(pointer):
        with open(pointer) as f:
            names.append(f.read().strip())
    names += glob.glob(osp.join(work_dir, 'iter_*.pth'))
    iters = [int(m.group(1)) for n in names for m in [re.search(r'iter_(\d+)\.pth$', n)] if m]
    return max(iters, default=0)


def run_state(run: RunSpec) -> str:
    """``'done'`` (metrics exist), ``'evaluate'`` (trained), ``'resume'`` (checkpoint) or ``'train'``."""
    if osp.isfile(run.metrics_path):
        return 'done'
    if trained_checkpoint(run.work_dir, run.model.max_iters):
        return 'evaluate'
    return 'resume' if has_checkpoint(run.work_dir) else 'train'


class SuiteRunner:
    """Runs a :class:`Suite` with child processes started by ``command_runner`` (see :mod:`.commands`)."""

    def __init__(self,
                 suite: Suite,
                 command_runner: CommandRunner = run_command,
                 log: Callable[[str], None] = print,
                 clock: Callable[[], float] = time.monotonic,
                 python: str = sys.executable) -> None:
        self.suite, self.command_runner, self.log = suite, command_runner, log
        self.clock, self.python = clock, python
        self.failures: List[str] = []
        self.logs_dir = osp.join(suite.out_dir, 'logs')

    # ----------------------------------------------------------------------------- plan
    def plan(self) -> List[Work]:
        work = []
        for run in self.suite.runs():
            state = run_state(run)
            if state == 'done':
                continue
            iters = 0 if state == 'evaluate' else run.model.max_iters - (
                resumed_iter(run.work_dir) if state == 'resume' else 0)
            work.append(Work(run.label, run.model.role, max(iters, 0)))
        return work

    def describe(self) -> List[str]:
        """The plan in words, with the commands (for ``--dry-run``)."""
        lines = [f'suite {self.suite.name}: {len(self.suite.runs())} runs, output {self.suite.out_dir}']
        for run in self.suite.runs():
            state = run_state(run)
            lines.append(f'  {run.label:<28} {state:<8} {run.work_dir}')
            if state in ('train', 'resume'):
                cmd = train_command(run.model.config, run.work_dir, self.suite.train_options(run),
                                    state == 'resume', self.python)
                lines.append('    $ ' + ' '.join(cmd))
        return lines

    # ----------------------------------------------------------------------------- execution
    def _call(self, cmd: List[str], log_name: str, on_line: Callable[[str], None] = lambda s: None) -> tuple:
        log_file = osp.join(self.logs_dir, log_name)
        start = self.clock()
        rc = self.command_runner(cmd, log_file, on_line)
        return rc, self.clock() - start, log_file

    def _fail(self, what: str, rc: int, log_file: str) -> None:
        self.failures.append(f'{what} (exit {rc}, log {log_file})')
        self.log(f'    {what} FAILED (exit {rc}); last lines of {log_file}:\n{log_tail(log_file)}')

    def prepare_data(self) -> bool:
        """Render (if missing) and check the data once, with the first model's config."""
        model = next(m for m in self.suite.models if m.role != 'teacher')
        self.log(f'data: checking the datasets of {model.config} (rendered on first use)')
        rc, secs, log_file = self._call(
            data_command(model.config, self.suite.common_options(model), self.python), 'prepare_data.log',
            lambda line: self.log(f'    {line}'))
        if rc != 0:
            self._fail('data preparation', rc, log_file)
            return False
        self.log(f'data: ready in {format_duration(secs)}')
        return True

    def check_signature(self, run: RunSpec) -> None:
        """Warn when an existing run was made with other options than the suite now gives it (e.g. after
        the suite's data or iterations changed): its results are kept, which may mix settings."""
        path = osp.join(run.work_dir, RUN_RECORD)
        if not osp.isfile(path):
            return
        with open(path) as f:
            old = json.load(f)
        new = self.signature(run)
        if old == new:
            return
        before, now = dict(old.get('options') or {}), new['options']
        changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
        if old.get('config') != new['config']:
            changed.insert(0, 'config')
        self.log(f'    WARNING {run.label}: made with other settings than the suite now gives it '
                 f'({", ".join(changed[:6])}{", ..." if len(changed) > 6 else ""}); its results are kept. '
                 f'Delete {run.work_dir} to redo it.')

    def signature(self, run: RunSpec) -> dict:
        """What a run was made with: its config and its --cfg-options (as strings)."""
        opts = dict(o.split('=', 1) for o in to_cli_options(self.suite.train_options(run)))
        return dict(config=run.model.config, options=opts)

    def run_one(self, run: RunSpec, progress: Progress) -> None:
        state = run_state(run)
        self.check_signature(run)
        if state == 'done':
            progress.skip(run.label, f'{METRICS_FILE} exists')
            return
        progress.start(run.label)
        tag = f'{run.model.name}_seed{run.seed}'
        trained, train_secs = 0, 0.0
        if state in ('train', 'resume'):
            start_iter = resumed_iter(run.work_dir) if state == 'resume' else 0
            if state == 'resume':
                self.log(f'    resuming from iteration {start_iter} in {run.work_dir}')
            cmd = train_command(run.model.config, run.work_dir, self.suite.train_options(run),
                                state == 'resume', self.python)
            if state == 'train':
                os.makedirs(run.work_dir, exist_ok=True)
                with open(osp.join(run.work_dir, RUN_RECORD), 'w') as f:
                    json.dump(self.signature(run), f, indent=2)
            rc, train_secs, log_file = self._call(cmd, f'{tag}_train.log', progress.on_line)
            if rc != 0:
                self._fail(f'training {run.label}', rc, log_file)
                progress.finish(False)
                return
            trained = run.model.max_iters - start_iter
        ckpt = trained_checkpoint(run.work_dir, run.model.max_iters)
        if ckpt is None:
            self.failures.append(f'{run.label}: training ended without {FINAL_CKPT} in {run.work_dir}')
            self.log(f'    no {FINAL_CKPT} (nor iter_{run.model.max_iters}.pth) in {run.work_dir}')
            progress.finish(False)
            return
        eval_secs = self.evaluate(run, ckpt, tag)
        progress.record(trained, train_secs, eval_secs)
        progress.finish(eval_secs is not None, f'trained {trained} iters' if trained else 'evaluated')

    def evaluate(self, run: RunSpec, ckpt: str, tag: str) -> Optional[float]:
        """Write the run's ``metrics.json``: the final validation's (``evaluate='val'``; a validation logged at
        the run's last iteration) or a test run's. Returns the seconds it took, None on failure.
        """
        start = self.clock()
        if self.suite.evaluate == 'val':
            metrics = final_val_metrics(run.work_dir, run.model.max_iters)
            if metrics:
                write_metrics(run.metrics_path, metrics)
                self.log(f'    metrics from the final validation (iteration {run.model.max_iters})')
                return self.clock() - start
            self.log('    no validation at the last iteration in the run\'s scalars; running tools/test.py')
        cmd = test_command(run.model.config, ckpt, run.metrics_path, osp.join(run.work_dir, 'test'),
                           self.suite.common_options(run.model), self.python)
        rc, secs, log_file = self._call(cmd, f'{tag}_test.log')
        if rc != 0 or not osp.isfile(run.metrics_path):
            self._fail(f'evaluating {run.label}', rc, log_file)
            return None
        return secs

    def cost_path(self, model: ModelSpec) -> str:
        return osp.join(self.suite.out_dir, model.name, COST_FILE)

    def measure_costs(self) -> None:
        """``cost.json`` per model (skipped when present): parameters, FLOPs and the training step in one child
        per model, then the latencies of all models interleaved in one child (:meth:`measure_latencies`)."""
        c = self.suite.cost
        if not c.get('enabled', True):
            return
        for model in self.suite.models:
            out = self.cost_path(model)
            if osp.isfile(out):
                continue
            self.log(f'cost: {model.name}')
            cmd = cost_command(model.config, out, self.suite.common_options(model), None, c.get('input_size'),
                               int(c['batch_size']), int(c['warmup']), int(c['repeats']), bool(c['train']),
                               int(c['train_iters']), int(c['train_warmup']), c['device'], self.python,
                               latency=False)
            rc, secs, log_file = self._call(cmd, f'{model.name}_cost.log')
            if rc != 0:
                self._fail(f'cost of {model.name}', rc, log_file)
            else:
                self.log(f'cost: {model.name} measured in {format_duration(secs)}')
        self.measure_latencies()

    def measure_latencies(self) -> None:
        """Latencies of every model measured interleaved in one child process (a slow period of a shared
        machine then hits all models alike), merged into the ``cost.json`` files; redone for all models when
        one lacks it, so that the latencies always come from one session."""
        c = self.suite.cost
        models = [m for m in self.suite.models if osp.isfile(self.cost_path(m))]
        records = {}
        for m in models:
            with open(self.cost_path(m)) as f:
                records[m.name] = json.load(f)
        if not records or all(r.get('latency') for r in records.values()):
            return
        size = c.get('input_size') or next(iter(records.values())).get('input_size')
        job = dict(models={m.name: dict(config=m.config, options=self.suite.common_options(m)) for m in models},
                   input_size=list(size), batch_size=int(c['batch_size']), warmup=int(c['warmup']),
                   repeats=int(c['repeats']), device=c['device'])
        os.makedirs(self.logs_dir, exist_ok=True)
        job_file, out = osp.join(self.logs_dir, 'latency_job.json'), osp.join(self.logs_dir, 'latency.json')
        with open(job_file, 'w') as f:
            json.dump(job, f, indent=2)
        self.log(f'latency: {len(models)} models, interleaved, {job["repeats"]} rounds')
        rc, secs, log_file = self._call(latency_command(job_file, out, self.python), 'latency.log')
        if rc != 0 or not osp.isfile(out):
            self._fail('latency measurement', rc, log_file)
            return
        with open(out) as f:
            latencies = json.load(f)
        for m in models:
            if m.name in latencies:
                records[m.name]['latency'] = latencies[m.name]
                with open(self.cost_path(m), 'w') as f:
                    json.dump(records[m.name], f, indent=2)
        self.log(f'latency: measured in {format_duration(secs)}')

    def report(self) -> Optional[Leaderboard]:
        """Print and export the leaderboard (and the cost comparison) from what is on disk."""
        col = collect_suite(self.suite.out_dir)
        if not any(r.metrics for r in col.runs):
            self.log('no finished run yet: no leaderboard')
            return None
        lb_cfg = self.suite.leaderboard
        board = board_from_collection(col, lb_cfg.get('sort_by'))
        lines, data = cost_comparison(col)
        text = board.to_text() + ('\n\nCost comparison:\n' + '\n'.join(lines) if lines else '')
        self.log(text)
        files = export_leaderboard(board, self.suite.out_dir, lb_cfg['formats'], chart=tuple(lb_cfg['chart']))
        with open(osp.join(self.suite.out_dir, 'leaderboard.txt'), 'w') as f:
            f.write(text + '\n')
        files += write_comparison(lines, data, self.suite.out_dir)
        self.log('written: ' + ', '.join(files + [osp.join(self.suite.out_dir, 'leaderboard.txt')]))
        return board

    def run(self, prepare_data: Optional[bool] = None, costs: bool = True) -> Optional[Leaderboard]:
        """Everything, in order; rerunning continues where the last call stopped."""
        suite = self.suite
        suite.check_configs()
        suite.write_manifest()
        start = self.clock()
        plan = self.plan()
        runs = suite.runs()
        self.log(f'suite {suite.name}: {len(runs)} runs ({len(runs) - len(plan)} finished earlier), '
                 f'seeds {suite.seeds}, output {suite.out_dir}')
        if plan and (prepare_data if prepare_data is not None else suite.cfg.get('prepare_data', True)):
            if not self.prepare_data():
                return self.report()
        progress = Progress(plan, self.log, self.clock)
        progress.total = len(runs)
        for run in runs:
            self.run_one(run, progress)
        if costs:
            self.measure_costs()
        board = self.report()
        self.log(f'suite {suite.name} finished in {format_duration(self.clock() - start)}' +
                 (f' with {len(self.failures)} failure(s):\n  ' +
                  '\n  '.join(self.failures) if self.failures else ''))
        return board
