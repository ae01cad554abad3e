"""Child processes of the benchmark: the commands (train, test, cost, latency, data), how they are run, and
the entry points that run inside them (``python -m jdbench.benchmark ...``).

A *command runner* is any callable ``runner(cmd, log_file, on_line) -> exit code``: it runs ``cmd`` (a list of
arguments), writes the output to ``log_file`` and calls ``on_line`` with every output line. The suite and the
comparison mode take one as an argument, so tests can inject a fake that writes result files instead
of training.

Entry points (``python -m jdbench.benchmark``, see :func:`main`):

* ``train-cost CONFIG --settings JSON``: measure a training step
  (:func:`~.measure.run_train_measurement`) in this fresh process and print the result as one
  ``JDBENCH_RESULT {json}`` line;
* ``prepare-data CONFIG``: build the config's datasets once, which renders SynthDrive when it is missing and
  checks that the data are readable;
* ``latency JOB.json --out OUT.json``: build every model of the job and measure their latencies interleaved
  (:func:`~.measure.measure_latencies`), so that they share the machine's slow and fast periods;
* ``evaluate CONFIG CHECKPOINT --dataloader NAME [--evaluator NAME] [--prefix P] --metrics-out FILE``: test a
  checkpoint on another loader of its config (:func:`~.evaluate.evaluate_checkpoint`; a suite's
  ``extra_evaluations``, e.g. the source domain's val split as ``source_mIoU``).
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
from typing import Callable, List, Mapping, Optional, Sequence

from .config_utils import LOADERS, REPO_ROOT, to_cli_options
from .records import CostSettings

CommandRunner = Callable[[List[str], str, Callable[[str], None]], int]
TOOLS = osp.join(REPO_ROOT, 'tools')
RESULT_PREFIX = 'JDBENCH_RESULT '
MODULE = 'jdbench.benchmark'  # its __main__ calls main()


# ------------------------------------------------------------------------------------------------ commands
def child_command(python: str = sys.executable) -> List[str]:
    """``python -m jdbench.benchmark`` that imports jdbench from ``PYTHONPATH`` (:func:`child_env`).

    ``-m`` puts the working directory first on ``sys.path``, so a child started from another checkout would
    import that checkout's jdbench; ``-P`` (Python >= 3.11) leaves it out.
    """
    return [python, *(['-P'] if sys.version_info >= (3, 11) else []), '-m', MODULE]


def _with_options(cmd: List[str], options: Optional[Mapping]) -> List[str]:
    opts = to_cli_options(options)
    return cmd + (['--cfg-options', *opts] if opts else [])


def train_command(config: str,
                  work_dir: str,
                  options: Optional[Mapping] = None,
                  resume: bool = False,
                  python: str = sys.executable) -> List[str]:
    """``python tools/train.py CONFIG --work-dir DIR [--resume] --cfg-options ...``."""
    cmd = [python, osp.join(TOOLS, 'train.py'), config, '--work-dir', work_dir]
    if resume:
        cmd.append('--resume')
    return _with_options(cmd, options)


def test_command(config: str,
                 checkpoint: str,
                 metrics_out: str,
                 work_dir: Optional[str] = None,
                 options: Optional[Mapping] = None,
                 python: str = sys.executable) -> List[str]:
    """``python tools/test.py CONFIG CHECKPOINT --metrics-out FILE [--work-dir DIR] --cfg-options ...``."""
    cmd = [python, osp.join(TOOLS, 'test.py'), config, checkpoint, '--metrics-out', metrics_out]
    if work_dir:
        cmd += ['--work-dir', work_dir]
    return _with_options(cmd, options)


def cost_command(config: str,
                 out: str,
                 settings: CostSettings = CostSettings(),
                 options: Optional[Mapping] = None,
                 checkpoint: Optional[str] = None,
                 python: str = sys.executable) -> List[str]:
    """``python tools/analyze_cost.py CONFIG [CHECKPOINT] --out cost.json <settings> --cfg-options ...``."""
    cmd = [python, osp.join(TOOLS, 'analyze_cost.py'), config]
    if checkpoint:
        cmd.append(checkpoint)
    return _with_options(cmd + ['--out', out, *settings.to_cli()], options)


def extra_eval_command(config: str,
                       checkpoint: str,
                       metrics_out: str,
                       dataloader: str,
                       evaluator: Optional[str] = None,
                       prefix: str = '',
                       work_dir: Optional[str] = None,
                       options: Optional[Mapping] = None,
                       python: str = sys.executable) -> List[str]:
    """``python -m jdbench.benchmark evaluate CONFIG CHECKPOINT --dataloader NAME [--evaluator NAME] [--prefix P]
    --metrics-out FILE [--work-dir DIR] --cfg-options ...``."""
    cmd = [*child_command(python), 'evaluate', config, checkpoint, '--dataloader', dataloader]
    if evaluator:
        cmd += ['--evaluator', evaluator]
    if prefix:
        cmd += ['--prefix', prefix]
    cmd += ['--metrics-out', metrics_out]
    if work_dir:
        cmd += ['--work-dir', work_dir]
    return _with_options(cmd, options)


def latency_command(job_file: str, out: str, python: str = sys.executable) -> List[str]:
    """``python -m jdbench.benchmark latency JOB.json --out OUT.json`` (interleaved latencies)."""
    return [*child_command(python), 'latency', job_file, '--out', out]


def data_command(config: str, options: Optional[Mapping] = None, python: str = sys.executable) -> List[str]:
    """``python -m jdbench.benchmark prepare-data CONFIG --cfg-options ...``: render/check data."""
    return _with_options([*child_command(python), 'prepare-data', config], options)


def train_cost_command(config: str, settings: CostSettings, options: Optional[Mapping] = None,
                       python: str = sys.executable) -> List[str]:
    """``python -m jdbench.benchmark train-cost CONFIG --settings JSON --cfg-options ...``."""
    return _with_options([*child_command(python), 'train-cost', config, '--settings',
                          json.dumps(settings.to_dict())], options)


# --------------------------------------------------------------------------------------------- running them
def child_env() -> dict:
    """The environment of child processes: unbuffered output, the repository importable."""
    env = dict(os.environ)
    env['PYTHONUNBUFFERED'] = '1'
    env['PYTHONPATH'] = os.pathsep.join(p for p in (REPO_ROOT, env.get('PYTHONPATH')) if p)
    env.setdefault('MPLBACKEND', 'Agg')
    return env


def run_command(cmd: Sequence[str], log_file: str, on_line: Callable[[str], None] = lambda line: None) -> int:
    """Run a command, streaming its output (stdout + stderr) line by line to ``log_file`` and ``on_line``.

    Ctrl-C stops the child too (it is terminated, then killed after 10 s) and is re-raised.
    """
    os.makedirs(osp.dirname(osp.abspath(log_file)), exist_ok=True)
    with open(log_file, 'a') as log:
        log.write('$ ' + ' '.join(cmd) + '\n')
        log.flush()
        proc = subprocess.Popen(
            list(cmd),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            env=child_env(),
            errors='replace')
        try:
            for line in proc.stdout:
                log.write(line)
                on_line(line.rstrip('\n'))
            return proc.wait()
        except BaseException:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            raise


def log_tail(log_file: str, lines: int = 15) -> str:
    """The last lines of a log file ('' if there is none)."""
    if not osp.isfile(log_file):
        return ''
    with open(log_file, errors='replace') as f:
        return ''.join(f.readlines()[-lines:])


def measure_train_in_child(config: str, cfg_options: Optional[dict] = None,
                           settings: CostSettings = CostSettings()) -> dict:
    """:func:`~.measure.run_train_measurement` in a fresh Python process (``train-cost``), stopped after
    ``settings.train_timeout`` seconds."""
    cmd = train_cost_command(config, settings, cfg_options)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=settings.train_timeout, env=child_env())
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    last = lines[-1] if lines else 'no output'
    tail = '\n'.join(lines[-15:])
    raise RuntimeError(f'training-cost measurement of {config} failed (exit {proc.returncode}): {last}\n{tail}')


# ------------------------------------------------------------------------------------- inside the child
def prepare_data(config: str, cfg_options: Optional[dict] = None) -> List[str]:
    """Build every dataset of a config (train, val, test); returns one line per dataset with its length."""
    import jdbench
    from jdbench.registry import DATASETS
    from .config_utils import load_model_config
    jdbench.register_all_modules(init_default_scope=True)
    cfg = load_model_config(config, cfg_options)
    lines, seen = [], []
    for loader in LOADERS:
        ds_cfg = (cfg.get(loader) or {}).get('dataset')
        if ds_cfg is None or ds_cfg in seen:
            continue
        seen.append(ds_cfg)
        dataset = DATASETS.build(ds_cfg)
        if len(dataset) == 0:
            raise RuntimeError(f'{loader} dataset of {config} is empty ({ds_cfg.get("data_root")})')
        lines.append(f'{loader}: {len(dataset)} samples from {ds_cfg.get("data_root")}')
    return lines


def latency_job(job: dict) -> dict:
    """Latency of the deployed model of each ``job['models']`` entry (``{name: {config, options}}``), measured
    interleaved with ``job['settings']`` (a :class:`CostSettings` dict with the ``input_size``)."""
    from .measure import build_for_cost, deployed_model, measure_latencies
    settings = CostSettings.from_dict(job['settings'])
    if not settings.input_size:
        raise ValueError('a latency job needs settings.input_size')
    models = {name: deployed_model(build_for_cost(m['config'], m.get('options'))[1])
              for name, m in job['models'].items()}
    return measure_latencies(models, (3, *settings.input_size), settings)


def main(argv: Optional[List[str]] = None) -> int:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(prog=f'python -m {MODULE}')
    sub = parser.add_subparsers(dest='cmd', required=True)
    cost = sub.add_parser('train-cost', help='measure a training iteration (time, peak memory)')
    cost.add_argument('config')
    cost.add_argument('--settings', default='{}', help='CostSettings as JSON')
    cost.add_argument('--cfg-options', nargs='+', action=DictAction, help='config overrides')
    data = sub.add_parser('prepare-data', help='render (if missing) and check the datasets of a config')
    data.add_argument('config')
    data.add_argument('--cfg-options', nargs='+', action=DictAction, help='config overrides')
    lat = sub.add_parser('latency', help='interleaved latency of several models (a JSON job file)')
    lat.add_argument('job', help='{"models": {name: {"config": ..., "options": {...}}}, "settings": '
                     '{"input_size": [H, W], "batch_size": 1, "warmup": 5, "repeats": 20, "device": "cpu"}}')
    lat.add_argument('--out', required=True, help='where to write {name: latency}')
    ev = sub.add_parser('evaluate', help='test a checkpoint on another loader of its config')
    ev.add_argument('config')
    ev.add_argument('checkpoint')
    ev.add_argument('--dataloader', required=True, help='the config\'s loader, e.g. source_val_dataloader')
    ev.add_argument('--evaluator', help='the config\'s evaluator (default test_evaluator)')
    ev.add_argument('--prefix', default='', help='put before every metric name, e.g. source_')
    ev.add_argument('--metrics-out', required=True, help='where to write {metric: value}')
    ev.add_argument('--work-dir', help='where the evaluation logs go')
    ev.add_argument('--cfg-options', nargs='+', action=DictAction, help='config overrides')
    args = parser.parse_args(argv)
    if args.cmd == 'evaluate':
        from .evaluate import evaluate_checkpoint
        metrics = evaluate_checkpoint(args.config, args.checkpoint, args.work_dir, metrics_out=args.metrics_out,
                                      cfg_options=args.cfg_options, dataloader=args.dataloader,
                                      evaluator=args.evaluator, prefix=args.prefix)
        for name, value in metrics.items():
            print(f'{name}: {value:.4f}', flush=True)
    elif args.cmd == 'latency':
        with open(args.job) as f:
            result = latency_job(json.load(f))
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)
        for name, lat in result.items():
            print(f'{name}: median {lat["median_ms"]:.2f} ms, p90 {lat["p90_ms"]:.2f} ms', flush=True)
    elif args.cmd == 'train-cost':
        from .measure import run_train_measurement
        result = run_train_measurement(args.config, args.cfg_options,
                                       CostSettings.from_dict(json.loads(args.settings)))
        print(RESULT_PREFIX + json.dumps(result), flush=True)
    else:
        for line in prepare_data(args.config, args.cfg_options):
            print(line, flush=True)
    return 0
