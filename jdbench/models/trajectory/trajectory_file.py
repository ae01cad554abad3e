"""The knowledge-trajectory file (``{teacher work_dir}/trajectory.pth``): write, read, check.

A plain dict of tensors, lists, str, int and float (``torch.load(weights_only=True)`` reads it)::

    format        'jdbench.trajectory'            version  1
    task          'seg'                           complete True when every planned milestone was recorded
    feature       'heads.seg.conv_seg'            feature_io 'input'
    p             2.0                             k        64 (essential points per image)
    stride        4                               size     [h, w]  the attention grid
    input_size    [H, W]  network input of the probe batch (after padding)
    probe_paths   [M image paths relative to data_root]          probe_hash  sha1 (see ProbeSet)
    milestones    [K fractions of training, increasing]          milestone_iters [K iterations]
    max_iters     the teacher's training length
    positions     int32 (K, M, k, 2): (row, col) of the essential points
    values        float32 (K, M, k): the L2-normalised attention at them

K·M·k·3 numbers: 8·16·64·3 = 24,576 (about 200 kB with the metadata).
"""
import os
import os.path as osp
from typing import Any, Dict

import torch

TRAJECTORY_FORMAT = 'jdbench.trajectory'
TRAJECTORY_VERSION = 1
REQUIRED_KEYS = ('task', 'feature', 'p', 'k', 'size', 'probe_paths', 'probe_hash', 'milestones', 'positions',
                 'values')


def check_trajectory(traj: Dict[str, Any], path: str = 'trajectory') -> Dict[str, Any]:
    """Raise a clear ``ValueError`` when ``traj`` is not a consistent trajectory record; return it."""
    if not isinstance(traj, dict) or traj.get('format') != TRAJECTORY_FORMAT:
        raise ValueError(f'{path} is not a jdbench trajectory file (format {TRAJECTORY_FORMAT!r} expected)')
    if traj.get('version', 0) > TRAJECTORY_VERSION:
        raise ValueError(f'{path} has trajectory format version {traj["version"]}; this jdbench reads up to '
                         f'{TRAJECTORY_VERSION}')
    missing = [k for k in REQUIRED_KEYS if k not in traj]
    if missing:
        raise ValueError(f'{path} lacks the field(s) {missing}')
    pos, val, ms = traj['positions'], traj['values'], traj['milestones']
    k, m = int(traj['k']), len(traj['probe_paths'])
    if pos.dim() != 4 or pos.shape[-1] != 2 or tuple(pos.shape[:3]) != tuple(val.shape):
        raise ValueError(f'{path}: positions {tuple(pos.shape)} must be (K, M, k, 2) and values '
                         f'{tuple(val.shape)} (K, M, k)')
    if val.shape[0] != len(ms) or val.shape[1] != m or val.shape[2] != k:
        raise ValueError(f'{path}: values {tuple(val.shape)} do not match K={len(ms)} milestones, M={m} '
                         f'probe images, k={k}')
    if any(b <= a for a, b in zip(ms, ms[1:])):
        raise ValueError(f'{path}: milestones must increase, got {ms}')
    h, w = (int(s) for s in traj['size'])
    if pos.numel() and (pos[..., 0].min() < 0 or pos[..., 0].max() >= h or pos[..., 1].min() < 0
                        or pos[..., 1].max() >= w):
        raise ValueError(f'{path}: essential-point positions fall outside the {h}x{w} grid')
    return traj


def save_trajectory(traj: Dict[str, Any], path: str) -> None:
    """Check and write ``traj`` (atomically: a temporary file renamed over ``path``)."""
    traj = {'format': TRAJECTORY_FORMAT, 'version': TRAJECTORY_VERSION, **traj}
    traj['positions'] = traj['positions'].detach().to('cpu', torch.int32).contiguous()
    traj['values'] = traj['values'].detach().to('cpu', torch.float32).contiguous()
    check_trajectory(traj, path)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp{os.getpid()}'
    torch.save(traj, tmp)
    os.replace(tmp, path)


def load_trajectory(path: str) -> Dict[str, Any]:
    """Read a trajectory file with ``weights_only=True``; clear errors for missing, damaged, foreign files."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'trajectory file {path!r} does not exist')
    try:
        traj = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # noqa: BLE001  (torch raises several types for damaged files)
        raise RuntimeError(f'trajectory file {path!r} could not be read ({type(err).__name__}: '
                           f'{err})') from err
    return check_trajectory(traj, path)
