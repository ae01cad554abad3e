"""Run a :class:`~.spec.Suite`: data, teachers, every method × seed, evaluation, cost and the leaderboard,
resumable.

:class:`SuiteRunner` turns the suite into child processes (``tools/train.py``, ``tools/test.py``,
``tools/analyze_cost.py``) through an injectable command runner, skipping what is finished:

* a run whose ``metrics.json`` exists is done;
* a run whose ``final.pth`` loads (or, without ``final.pth``, the checkpoint of its last iteration) is only
  evaluated;
* a run with a checkpoint that loads in its work dir is continued with ``--resume`` from the newest such
  checkpoint; damaged checkpoints (a damaged ``final.pth`` included) are named in the log and not trusted;
* a teacher whose ``{teacher_work_dir}/<config name>/metrics.json`` exists and whose ``final.pth`` loads is
  not trained again; the distillers are pointed at its ``final.pth`` (and ``trajectory.pth``).
"""
import json
import os
import os.path as osp
import sys
import time
from dataclasses import replace
from typing import Callable, List, Optional

from jdbench.utils.scalars import final_val_metrics
from ..aggregate import Leaderboard
from ..child import (CommandRunner, cost_command, data_command, extra_eval_command, latency_command, log_tail,
                     run_command, test_command, train_command)
from ..collect import collect_suite
from ..config_utils import to_cli_options
from ..progress import Progress, Work, format_duration
from ..report import suite_report
from ..rundir import (COST_FILE, FINAL_CKPT, METRICS_FILE, final_checkpoint_loads, final_val_per_class,
                      inspect_checkpoints, read_metrics, trained_checkpoint, write_metrics)
from .spec import RUN_RECORD, ExtraEvaluation, ModelSpec, RunSpec, Suite


def run_state(run: RunSpec) -> str:
    """``'done'`` (metrics exist), ``'evaluate'`` (trained weights that load), ``'resume'`` (a checkpoint that
    loads) or ``'train'``. A teacher needs a ``final.pth`` that loads (the distillers read it) to be done or
    evaluated; with only the last iteration's checkpoint it is resumed, which writes ``final.pth``."""
    teacher = run.model.role == 'teacher'
    if osp.isfile(run.metrics_path) and (not teacher or final_checkpoint_loads(run.work_dir)):
        return 'done'
    ckpts = inspect_checkpoints(run.work_dir, run.model.max_iters)
    if ckpts.trained and (not teacher or osp.basename(ckpts.trained) == FINAL_CKPT):
        return 'evaluate'
    return 'resume' if ckpts.resume else 'train'


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
            start = inspect_checkpoints(run.work_dir, run.model.max_iters).resume_iter  # 0 in state 'train'
            iters = 0 if state == 'evaluate' else run.model.max_iters - start
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
        ckpts = inspect_checkpoints(run.work_dir, run.model.max_iters)
        for problem in ckpts.untrusted:
            self.log(f'    WARNING {run.label}: checkpoint not trusted: {problem}')
        if state in ('train', 'resume'):
            start_iter = ckpts.resume_iter if state == 'resume' else 0
            if state == 'resume':
                done = start_iter >= run.model.max_iters
                self.log(f'    resuming from iteration {start_iter} ({ckpts.resume})' +
                         (': training is complete, final.pth is written again' if done else ''))
            elif ckpts.untrusted:
                self.log(f'    no checkpoint that loads in {run.work_dir}: training from iteration 0')
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
        the run's last iteration, with its per-class IoU when the metric gives them) or a test run's, plus the
        suite's ``extra_evaluations`` (:meth:`evaluate_extra`). ``metrics.json`` is written last, so a run whose
        extra evaluation failed is evaluated again by the next call. Returns the seconds it took, None on
        failure.
        """
        start = self.clock()
        extras = self.suite.extra_evaluations_of(run.model)
        metrics = None
        if self.suite.evaluate == 'val':
            metrics = final_val_metrics(run.work_dir, run.model.max_iters)
            if metrics:
                metrics.update(final_val_per_class(run.work_dir, run.model.max_iters))
                self.log(f'    metrics from the final validation (iteration {run.model.max_iters})')
            else:
                self.log('    no validation at the last iteration in the run\'s scalars; running tools/test.py')
        if not metrics:
            # without extra evaluations tools/test.py writes metrics.json itself (as always)
            out = osp.join(run.work_dir, 'metrics_test.json') if extras else run.metrics_path
            cmd = test_command(run.model.config, ckpt, out, osp.join(run.work_dir, 'test'),
                               self.suite.common_options(run.model), self.python)
            rc, secs, log_file = self._call(cmd, f'{tag}_test.log')
            if rc != 0 or not osp.isfile(out):
                self._fail(f'evaluating {run.label}', rc, log_file)
                return None
            if not extras:
                return secs
            metrics = read_metrics(out)
        for extra in extras:
            found = self.evaluate_extra(run, ckpt, tag, extra)
            if found is None:
                return None
            metrics.update(found)
        write_metrics(run.metrics_path, metrics)
        return self.clock() - start

    def evaluate_extra(self, run: RunSpec, ckpt: str, tag: str, extra: ExtraEvaluation) -> Optional[dict]:
        """One extra evaluation of a run's final weights (``python -m jdbench.benchmark evaluate``), kept in
        ``metrics_<name>.json`` (reused when present); its ``<name>_<metric>`` values, None on failure."""
        out = extra.metrics_path(run.work_dir)
        if not osp.isfile(out):
            cmd = extra_eval_command(run.model.config, ckpt, out, extra.dataloader, extra.evaluator, extra.prefix,
                                     osp.join(run.work_dir, f'test_{extra.name}'),
                                     self.suite.extra_eval_options(run.model, extra), self.python)
            rc, secs, log_file = self._call(cmd, f'{tag}_test_{extra.name}.log')
            if rc != 0 or not osp.isfile(out):
                self._fail(f'evaluating {run.label} on {extra.dataloader}', rc, log_file)
                return None
            self.log(f'    {extra.name}: evaluated on {extra.dataloader} in {format_duration(secs)}')
        found = read_metrics(out)
        return {k: v for k, v in found.items() if k.startswith(extra.prefix)}

    def cost_path(self, model: ModelSpec) -> str:
        return osp.join(self.suite.out_dir, model.name, COST_FILE)

    def measure_costs(self) -> None:
        """``cost.json`` per model (skipped when present): parameters, FLOPs and the training step in one child
        per model, then the latencies of all models interleaved in one child (:meth:`measure_latencies`)."""
        if not self.suite.cost_enabled:
            return
        settings = replace(self.suite.cost, latency=False)  # measured for all models at once, below
        for model in self.suite.models:
            out = self.cost_path(model)
            if osp.isfile(out):
                continue
            self.log(f'cost: {model.name}')
            cmd = cost_command(model.config, out, settings, self.suite.common_options(model), python=self.python)
            rc, secs, log_file = self._call(cmd, f'{model.name}_cost.log')
            if rc != 0:
                self._fail(f'cost of {model.name}', rc, log_file)
            else:
                self.log(f'cost: {model.name} measured in {format_duration(secs)}')
        self.measure_latencies()

    def measure_latencies(self) -> None:
        """Latencies of every model measured interleaved in one child process (a slow period of a shared
        machine then hits all models alike), merged into the ``cost.json`` files; redone for all models when
        one lacks it, so that the latencies always come from one session (also those of the models a
        ``--methods`` run left out)."""
        models = [m for m in self.suite.all_models if osp.isfile(self.cost_path(m))]
        records = {}
        for m in models:
            with open(self.cost_path(m)) as f:
                records[m.name] = json.load(f)
        if not records or all(r.get('latency') for r in records.values()):
            return
        settings = self.suite.cost
        if not settings.input_size:
            settings = replace(settings, input_size=next(iter(records.values())).get('input_size'))
        job = dict(models={m.name: dict(config=m.config, options=self.suite.common_options(m)) for m in models},
                   settings=settings.to_dict())
        os.makedirs(self.logs_dir, exist_ok=True)
        job_file, out = osp.join(self.logs_dir, 'latency_job.json'), osp.join(self.logs_dir, 'latency.json')
        with open(job_file, 'w') as f:
            json.dump(job, f, indent=2)
        self.log(f'latency: {len(models)} models, interleaved, {settings.repeats} rounds')
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
        suite = self.suite
        return suite_report(col, suite.out_dir, suite.leaderboard, suite.teacher_margin, self.log, gap=suite.gap)

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
