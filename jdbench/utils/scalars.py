"""Read what mmengine's ``LocalVisBackend`` wrote: ``{work_dir}/{timestamp}/vis_data/scalars.json``.

Each line of ``scalars.json`` is one JSON record with a ``step``. A resumed run writes a new timestamp
folder, so the records of all timestamps are read in time order; a step logged again after a resume replaces
the earlier record of that step and kind (train or val).
"""
import glob
import json
import os.path as osp
from typing import Dict, List, Optional

from jdbench.evaluation.functional import METRIC_DIRECTIONS

SCALARS_GLOB = osp.join('*', 'vis_data', 'scalars.json')


def scalars_files(work_dir: str) -> List[str]:
    """The ``scalars.json`` files of a work dir, oldest timestamp first."""
    return sorted(glob.glob(osp.join(work_dir, SCALARS_GLOB)))


def _read_jsonl(path: str) -> List[dict]:
    records = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by an interrupted run
                continue
            if isinstance(rec, dict):
                records.append(rec)
    return records


def is_val_record(record: dict) -> bool:
    """A validation record carries metric keys (``mIoU``, ``abs_err``...) and no training loss."""
    keys = {k.split('/')[-1] for k in record}
    return bool(keys & set(METRIC_DIRECTIONS)) and 'loss' not in keys


def read_scalars(work_dir: str) -> List[dict]:
    """All scalar records of a run (every timestamp) in step order; a later duplicate replaces an earlier."""
    merged: Dict[tuple, dict] = {}
    for path in scalars_files(work_dir):
        for rec in _read_jsonl(path):
            key = (int(rec.get('step', 0)), is_val_record(rec))
            merged[key] = rec
    return [merged[k] for k in sorted(merged)]


def _strip(key: str) -> str:
    return key.split('/', 1)[1] if key.startswith(('val/', 'test/', 'train/')) else key


def final_val_metrics(work_dir: str, max_iters: Optional[int] = None) -> Optional[Dict[str, float]]:
    """Metrics of the last validation (at ``max_iters`` when given), or None when there is none.

    Only metric keys are returned (:data:`METRIC_DIRECTIONS` and ``delta_m``), not ``time``/``data_time``.
    """
    vals = [r for r in read_scalars(work_dir) if is_val_record(r)]
    if max_iters is not None:
        vals = [r for r in vals if int(r.get('step', -1)) == int(max_iters)]
    if not vals:
        return None
    rec = {_strip(k): v for k, v in vals[-1].items()}
    return {
        k: float(v)
        for k, v in rec.items() if (k in METRIC_DIRECTIONS or k == 'delta_m') and isinstance(v, (int, float))
    }


def series(records: List[dict], key: str) -> tuple:
    """``(steps, values)`` of one scalar over the records that have it."""
    steps, values = [], []
    for rec in records:
        if key in rec and isinstance(rec[key], (int, float)):
            steps.append(int(rec.get('step', len(steps))))
            values.append(float(rec[key]))
    return steps, values
