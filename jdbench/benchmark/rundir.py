"""One run's work dir: what it holds and what state the run is in.

A checkpoint counts only when it loads: jdbench writes checkpoints atomically, but a copy can be damaged,
and a run of an older jdbench may hold a file that a kill truncated.

    <work_dir>/<config name>.py      the config mmengine dumped (with the run's overrides)
    <work_dir>/iter_<N>.pth          resumable checkpoints (mmengine's ``last_checkpoint`` points at the latest)
    <work_dir>/final.pth             the trained (student) weights, written after training
    <work_dir>/*.part                a write in progress, or one a kill interrupted (never read)
    <work_dir>/*/vis_data/scalars.json   the logged scalars (the final validation among them)
    <work_dir>/metrics.json          the run's metrics ({name: float}, as ``tools/test.py --metrics-out`` writes)
"""
import glob
import json
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from jdbench.utils.checkpoint import (atomic_write, checkpoint_iter, checkpoint_problem,
                                      latest_loadable_checkpoint)
from .records import RunRecord

METRICS_FILE = 'metrics.json'
COST_FILE = 'cost.json'
FINAL_CKPT = 'final.pth'


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


#: Metric keys a run's final validation may add beside the leaderboard's metrics (``JointMetric(per_class=True)``).
PER_CLASS_PREFIX = 'IoU.'


def final_val_per_class(work_dir: str, max_iters: int) -> Dict[str, float]:
    """The per-class IoU keys (``IoU.<class>``) of the validation logged at ``max_iters`` ({} when the run's
    metric did not give them: ``JointMetric(per_class=True)`` does)."""
    from jdbench.utils.scalars import is_val_record, read_scalars
    records = [r for r in read_scalars(work_dir) if is_val_record(r) and int(r.get('step', -1)) == int(max_iters)]
    if not records:
        return {}
    out = {}
    for key, value in records[-1].items():
        name = key.split('/', 1)[1] if key.startswith('val/') else key
        if name.startswith(PER_CLASS_PREFIX) and isinstance(value, (int, float)):
            out[name] = float(value)
    return out


def write_metrics(path: str, metrics: Dict[str, float]) -> None:
    """Write ``{name: float}`` atomically: an interrupted write never leaves a half file that counts as done."""
    with atomic_write(path, 'w') as f:
        json.dump({k: float(v) for k, v in metrics.items()}, f, indent=2)


# ----------------------------------------------------------------------------------------------- run state
def find_config(work_dir: str) -> Optional[str]:
    """The config mmengine dumped into a work dir (``<config name>.py``), if any."""
    found = sorted(glob.glob(osp.join(work_dir, '*.py')))
    return found[0] if found else None


def _has_checkpoint_file(work_dir: str) -> bool:
    return osp.isfile(osp.join(work_dir, 'last_checkpoint')) or bool(
        glob.glob(osp.join(work_dir, 'iter_*.pth')))


def is_run_dir(path: str) -> bool:
    """A folder with a run in it (metrics, final weights, checkpoints or logged scalars)."""
    return osp.isdir(path) and (osp.isfile(osp.join(path, METRICS_FILE))
                                or osp.isfile(osp.join(path, FINAL_CKPT)) or _has_checkpoint_file(path)
                                or bool(glob.glob(osp.join(path, '*', 'vis_data'))))


@dataclass
class RunCheckpoints:
    """What a run's checkpoints allow, counting only files that load (:func:`checkpoint_problem`).

    Attributes:
        trained: ``final.pth``, or ``iter_<max_iters>.pth`` when there is no ``final.pth``; None when neither
            loads. A damaged ``final.pth`` is not replaced by ``iter_<max_iters>.pth``: resuming from that
            checkpoint (no iteration left) writes ``final.pth`` again.
        resume: the newest ``iter_<N>.pth`` that loads (what ``tools/train.py --resume`` starts from); not
            looked for when ``final.pth`` loads.
        resume_iter: its iteration (0 without one).
        untrusted: ``'<path>: <why>'`` for each checkpoint found damaged.
    """
    trained: Optional[str] = None
    resume: Optional[str] = None
    resume_iter: int = 0
    untrusted: List[str] = field(default_factory=list)


def inspect_checkpoints(work_dir: str, max_iters: int) -> RunCheckpoints:
    """Which of a work dir's checkpoints load (each read once per version: :func:`checkpoint_problem`)."""
    out = RunCheckpoints()
    final = osp.join(work_dir, FINAL_CKPT)
    if osp.isfile(final):
        problem = checkpoint_problem(final)
        if problem is None:
            out.trained = final
            return out
        out.untrusted.append(f'{final}: {problem}')
    out.resume, skipped = latest_loadable_checkpoint(work_dir)
    out.untrusted += skipped
    out.resume_iter = checkpoint_iter(out.resume) if out.resume else 0
    if not osp.isfile(final) and out.resume and out.resume_iter == max_iters:
        out.trained = out.resume
    return out


def trained_checkpoint(work_dir: str, max_iters: int) -> Optional[str]:
    """The weights of a finished training that load (see :attr:`RunCheckpoints.trained`), else None."""
    return inspect_checkpoints(work_dir, max_iters).trained


def final_checkpoint_loads(work_dir: str) -> bool:
    """``final.pth`` exists and loads (a teacher's is what the distillers read)."""
    final = osp.join(work_dir, FINAL_CKPT)
    return osp.isfile(final) and checkpoint_problem(final) is None


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
