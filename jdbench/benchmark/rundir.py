"""One run's work dir: what it holds and what state the run is in.

    <work_dir>/<config name>.py      the config mmengine dumped (with the run's overrides)
    <work_dir>/iter_<N>.pth          resumable checkpoints (mmengine's ``last_checkpoint`` points at the latest)
    <work_dir>/final.pth             the trained (student) weights, written after training
    <work_dir>/*/vis_data/scalars.json   the logged scalars (the final validation among them)
    <work_dir>/metrics.json          the run's metrics ({name: float}, as ``tools/test.py --metrics-out`` writes)
"""
import glob
import json
import os
import os.path as osp
import re
from typing import Dict, Optional

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


def write_metrics(path: str, metrics: Dict[str, float]) -> None:
    """Write ``{name: float}`` atomically: an interrupted write never leaves a half file that counts as done."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump({k: float(v) for k, v in metrics.items()}, f, indent=2)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------- run state
def find_config(work_dir: str) -> Optional[str]:
    """The config mmengine dumped into a work dir (``<config name>.py``), if any."""
    found = sorted(glob.glob(osp.join(work_dir, '*.py')))
    return found[0] if found else None


def has_checkpoint(work_dir: str) -> bool:
    """A resumable checkpoint exists (mmengine's ``last_checkpoint`` pointer or an ``iter_*.pth``)."""
    return osp.isfile(osp.join(work_dir, 'last_checkpoint')) or bool(
        glob.glob(osp.join(work_dir, 'iter_*.pth')))


def is_run_dir(path: str) -> bool:
    """A folder with a run in it (metrics, final weights, checkpoints or logged scalars)."""
    return osp.isdir(path) and (osp.isfile(osp.join(path, METRICS_FILE))
                                or osp.isfile(osp.join(path, FINAL_CKPT)) or has_checkpoint(path)
                                or bool(glob.glob(osp.join(path, '*', 'vis_data'))))


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
