"""Child-process commands of the benchmark (train, test, cost, data) and the default way to run them.

A *command runner* is any callable ``runner(cmd, log_file, on_line) -> exit code``: it runs ``cmd`` (a list of
arguments), writes the output to ``log_file`` and calls ``on_line`` with every output line. The suite and the
comparison mode take one as an argument, so tests can inject a fake that writes result files instead
of training.
"""
import os
import os.path as osp
import subprocess
import sys
from typing import Callable, List, Mapping, Optional, Sequence, Tuple

from .config_utils import to_cli_options

CommandRunner = Callable[[List[str], str, Callable[[str], None]], int]
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(REPO_ROOT, 'tools')


def worker_command(python: str = sys.executable) -> List[str]:
    """``python -m jdbench.benchmark.worker`` that imports jdbench from ``PYTHONPATH`` (:func:`child_env`).

    ``-m`` puts the working directory first on ``sys.path``, so a child started from another checkout would
    import that checkout's jdbench; ``-P`` (Python >= 3.11) leaves it out.
    """
    return [python, *(['-P'] if sys.version_info >= (3, 11) else []), '-m', 'jdbench.benchmark.worker']


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
                 options: Optional[Mapping] = None,
                 checkpoint: Optional[str] = None,
                 input_size: Optional[Tuple[int, int]] = None,
                 batch_size: int = 1,
                 warmup: int = 5,
                 repeats: int = 20,
                 train: bool = True,
                 train_iters: int = 3,
                 train_warmup: int = 3,
                 device: str = 'cpu',
                 python: str = sys.executable,
                 latency: bool = True) -> List[str]:
    """``python tools/analyze_cost.py CONFIG [CHECKPOINT] --out cost.json ...``."""
    cmd = [python, osp.join(TOOLS, 'analyze_cost.py'), config]
    if checkpoint:
        cmd.append(checkpoint)
    numbers = dict(batch_size=batch_size, warmup=warmup, repeats=repeats, train_iters=train_iters,
                   train_warmup=train_warmup)
    cmd += ['--out', out, '--device', device]
    for key, value in numbers.items():
        cmd += ['--' + key.replace('_', '-'), str(value)]
    if input_size:
        cmd += ['--input-size', str(input_size[0]), str(input_size[1])]
    if not train:
        cmd.append('--no-train')
    if not latency:
        cmd.append('--no-latency')
    return _with_options(cmd, options)


def latency_command(job_file: str, out: str, python: str = sys.executable) -> List[str]:
    """``python -m jdbench.benchmark.worker latency JOB.json --out OUT.json`` (interleaved latencies)."""
    return [*worker_command(python), 'latency', job_file, '--out', out]


def data_command(config: str, options: Optional[Mapping] = None, python: str = sys.executable) -> List[str]:
    """``python -m jdbench.benchmark.worker prepare-data CONFIG --cfg-options ...``: render/check data."""
    return _with_options([*worker_command(python), 'prepare-data', config], options)


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
