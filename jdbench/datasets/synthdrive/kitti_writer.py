"""Writes SynthDrive sequences in the KITTI raw layout, so a KITTI raw loader reads them unchanged::

    {date}/calib_cam_to_cam.txt             S/K/D/R/T_0x, S_rect_0x, R_rect_0x, P_rect_0x (x = 0..3)
    {date}/calib_velo_to_cam.txt            R (9), T (3): scanner -> unrectified camera 0
    {date}/{drive}/image_02/data/{i:010d}.png                   RGB
    {date}/{drive}/image_02/timestamps.txt
    {date}/{drive}/velodyne_points/data/{i:010d}.bin            float32 (k, 4): x fwd, y left, z up, refl
    {date}/{drive}/velodyne_points/timestamps.txt
    {date}/{drive}/proj_depth/groundtruth/image_02/{i:010d}.png uint16 depth * 256, 0 = none (sky)
    {date}/{drive}/semantic/image_02/{i:010d}.png               uint8 train IDs (SynthDrive extra)
    {date}/{drive}/poses.txt                3x4 camera-to-world per frame (SynthDrive extra)
    splits/{split_name}/{train,val,test}_files.txt              "{date}/{drive} {frame} l"
    synthdrive_seq_meta.json                written last: arguments, drives, conventions

(paths relative to the dataset root), with ``date = 2026_01_{d:02d}`` and
``drive = {date}_drive_{n:04d}_sync``. See docs/synthdrive.md.
"""
import json
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.logging import MMLogger, print_log
from mmengine.utils import ProgressBar

from .classes import CITYSCAPES_CLASSES, IGNORE
from .lidar import LidarScan
from .sequence import FRAME_INTERVAL, Rig, render_sequence, sample_rig
from .styles import STYLES
from .writer import _PNG

SEQ_META_FILE = 'synthdrive_seq_meta.json'
#: Depth PNG scale (KITTI's annotated depth: uint16 = metres * 256, 0 = invalid).
DEPTH_SCALE = 256.0
#: ``P_rect_0x[0, 3] / fx`` (m) of the cameras that are not rendered (KITTI's layout: 1 and 3 on the right);
#: camera 2, the rendered one, sits ``rig.baseline`` left of camera 0.
_CAMERA_SHIFT = {0: 0.0, 1: -0.54, 3: -0.48}
SPLITS = ('train', 'val', 'test')


def date_name(index: int) -> str:
    """Folder of date ``index`` (0-based): ``2026_01_01``, ``2026_01_02``, ... (at most 28 dates)."""
    if not 0 <= index < 28:
        raise ValueError(f'date index {index} out of range 0..27; raise drives_per_date')
    return f'2026_01_{index + 1:02d}'


def drive_name(date: str, index: int) -> str:
    """Folder of drive ``index`` (0-based, unique over the dataset): ``{date}_drive_{index + 1:04d}_sync``."""
    return f'{date}_drive_{index + 1:04d}_sync'


def frame_name(frame: int) -> str:
    """KITTI's 10-digit frame stem, e.g. ``0000000012``."""
    return f'{frame:010d}'


def drive_paths(drive_dir: str, frame: int) -> Dict[str, str]:
    """Paths of one frame's files: keys ``img``, ``velo``, ``depth``, ``label``."""
    stem = frame_name(frame)
    return {'img': osp.join(drive_dir, 'image_02', 'data', f'{stem}.png'),
            'velo': osp.join(drive_dir, 'velodyne_points', 'data', f'{stem}.bin'),
            'depth': osp.join(drive_dir, 'proj_depth', 'groundtruth', 'image_02', f'{stem}.png'),
            'label': osp.join(drive_dir, 'semantic', 'image_02', f'{stem}.png')}


def encode_depth(depth: np.ndarray) -> np.ndarray:
    """KITTI depth PNG values: ``round(depth * 256)`` (uint16, clipped to 65535), 0 where ``depth <= 0``."""
    return np.where(depth > 0, np.minimum(np.round(depth * DEPTH_SCALE), 65535), 0).astype(np.uint16)


def _fmt(values: np.ndarray) -> str:
    return ' '.join(f'{v:.12e}' for v in np.asarray(values, np.float64).ravel())


def calibration(rig: Rig, size: Tuple[int, int]) -> Dict[str, Dict[str, np.ndarray]]:
    """The two calibration files of ``rig`` for images of ``size = (H, W)``, as ``{file: {key: array}}``.

    Pixel convention: ``P_rect_0x`` (and ``K_0x``) use KITTI's MATLAB (1-based) pixel coordinates, so the
    0-based pixel of a projected point is ``round(u) - 1`` (what Monodepth2's ``generate_depth_map`` does) and
    the 0-based intrinsics of the images are ``P_rect_02[:, :3]`` with 1 subtracted from ``cx`` and ``cy``.
    ``P_rect_02 @ R_rect_00 @ [R | T]`` maps a scanner point to the rendered camera (z = its z-depth).
    """
    h, w = size
    k0 = rig.intrinsics(size)
    k1 = k0.copy()
    k1[:2, 2] += 1.0
    rect = np.asarray(rig.rect_rotation, np.float64).reshape(3, 3)
    velo = rig.velo_to_camera()                               # scanner -> camera 2 (rectified)
    shift = np.array([rig.baseline, 0.0, 0.0])                # X_cam2 = X_rect0 + shift
    cam = {'calib_time': '01-Jan-2026 00:00:00', 'corner_dist': np.array([0.0])}
    for c in range(4):
        tx = _CAMERA_SHIFT.get(c, rig.baseline)
        p = k1 @ np.hstack([np.eye(3), [[tx], [0.0], [0.0]]])
        cam.update({f'S_0{c}': np.array([w, h], float), f'K_0{c}': k1, f'D_0{c}': np.zeros(5),
                    f'R_0{c}': np.eye(3), f'T_0{c}': rect.T @ np.array([tx, 0.0, 0.0]),
                    f'S_rect_0{c}': np.array([w, h], float), f'R_rect_0{c}': rect, f'P_rect_0{c}': p})
    velo_to_cam = {'calib_time': '01-Jan-2026 00:00:00', 'R': rect.T @ velo[:3, :3],
                   'T': rect.T @ (velo[:3, 3] - shift), 'delta_f': np.zeros(2), 'delta_c': np.zeros(2)}
    return {'calib_cam_to_cam.txt': cam, 'calib_velo_to_cam.txt': velo_to_cam}


def write_calibration(date_dir: str, rig: Rig, size: Tuple[int, int]) -> None:
    """Write ``calib_cam_to_cam.txt`` and ``calib_velo_to_cam.txt`` (KITTI's ``KEY: v v v`` text) to
    ``date_dir``."""
    os.makedirs(date_dir, exist_ok=True)
    for name, entries in calibration(rig, size).items():
        lines = [f'{k}: {v if isinstance(v, str) else _fmt(v)}' for k, v in entries.items()]
        with open(osp.join(date_dir, name), 'w') as f:
            f.write('\n'.join(lines) + '\n')


def read_calib_file(path: str) -> Dict[str, object]:
    """Parse a KITTI calibration file: numeric values as float64 arrays, others (``calib_time``) as text."""
    out: Dict[str, object] = {}
    with open(path) as f:
        for line in f:
            if ':' not in line:
                continue
            key, value = line.split(':', 1)
            try:
                out[key] = np.array([float(v) for v in value.split()])
            except ValueError:
                out[key] = value.strip()
    return out


def _timestamps(date: str, drive_index: int, num_frames: int) -> List[str]:
    """KITTI-style timestamps ``YYYY-MM-DD hh:mm:ss.nnnnnnnnn``, 0.1 s apart from 12:00, each drive 10 minutes
    after the previous one of its date."""
    day = date.replace('_', '-')
    out = []
    for i in range(num_frames):
        ns = int(round((drive_index * 600.0 + i * FRAME_INTERVAL) * 1e9))
        sec, frac = divmod(ns, 10 ** 9)
        hh, rem = divmod(12 * 3600 + sec, 3600)
        mm, ss = divmod(rem, 60)
        out.append(f'{day} {hh:02d}:{mm:02d}:{ss:02d}.{frac:09d}')
    return out


def write_frame(drive_dir: str, frame: int, out: Dict[str, np.ndarray]) -> None:
    """Write one :func:`render_sequence` frame (image, scan, depth, labels) into ``drive_dir``."""
    paths = drive_paths(drive_dir, frame)
    for path in paths.values():
        os.makedirs(osp.dirname(path), exist_ok=True)
    cv2.imwrite(paths['img'], np.ascontiguousarray(out['img'][..., ::-1]), _PNG)
    cv2.imwrite(paths['depth'], encode_depth(out['depth']), _PNG)
    cv2.imwrite(paths['label'], out['label'], _PNG)
    if 'velo' in out:
        np.ascontiguousarray(out['velo'], np.float32).tofile(paths['velo'])


def write_poses(path: str, poses: Sequence[np.ndarray]) -> None:
    """One camera-to-world 3x4 matrix per line (12 numbers, row-major), as KITTI odometry's poses."""
    with open(path, 'w') as f:
        f.write(''.join(_fmt(p[:3, :4]) + '\n' for p in poses))


def read_poses(path: str) -> np.ndarray:
    """Read :func:`write_poses` output as (F, 4, 4) float64 camera-to-world matrices."""
    rows = np.loadtxt(path, ndmin=2).reshape(-1, 3, 4)
    out = np.tile(np.eye(4), (len(rows), 1, 1))
    out[:, :3] = rows
    return out


def split_lines(drives: Sequence[Tuple[str, int]], neighbours: int = 1) -> List[str]:
    """Monodepth2 split lines ``"{folder} {frame} l"`` of every frame of ``drives`` (``(folder, num_frames)``)
    that has ``neighbours`` frames on either side (0 = every frame). A drive with too few frames is an
    error."""
    lines = []
    for folder, n in drives:
        if n < 2 * neighbours + 1 or n < 2:
            need = max(2 * neighbours + 1, 2)
            raise ValueError(f'drive {folder!r} has {n} frame(s): a sequence needs at least {need} frames (a '
                             f'frame with {neighbours} neighbour(s) on either side); render more frames per '
                             'sequence')
        lines += [f'{folder} {i} l' for i in range(neighbours, n - neighbours)]
    return lines


def write_splits(root: str, split_name: str, drives: Dict[str, Sequence[Tuple[str, int]]],
                 neighbours: int = 1) -> Dict[str, str]:
    """Write ``{root}/splits/{split_name}/{split}_files.txt`` for each split in ``drives`` (split -> list of
    ``(folder, num_frames)``). Train and val keep frames with ``neighbours`` on either side; test keeps every
    frame. Returns the paths."""
    out_dir = osp.join(root, 'splits', split_name)
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    for split, items in drives.items():
        lines = split_lines(items, neighbours if split != 'test' else 0)
        paths[split] = osp.join(out_dir, f'{split}_files.txt')
        with open(paths[split], 'w') as f:
            f.write(''.join(line + '\n' for line in lines))
    return paths


def drive_seed(seed: int, index: int) -> int:
    """The render seed of drive ``index``: a function of ``(seed, index)`` only."""
    state = np.random.SeedSequence([seed, 7, index]).generate_state(1, np.uint64)
    return int(state[0])


def _split_counts(n: int, num_val: Optional[int], num_test: Optional[int]) -> Tuple[int, int, int]:
    num_val = max(1, n // 10) if num_val is None and n >= 3 else (num_val or 0)
    num_test = max(1, n // 10) if num_test is None and n >= 3 else (num_test or 0)
    if num_val < 0 or num_test < 0 or n - num_val - num_test < 1:
        raise ValueError(f'{n} sequences cannot hold {num_val} val and {num_test} test drives and at least '
                         'one train drive; render more sequences or lower num_val/num_test')
    return n - num_val - num_test, num_val, num_test


def render_sequences(out_dir: str, num_sequences: int, num_frames: int, size: Tuple[int, int] = (128, 416),
                     seed: int = 0, style: str = 'day', num_val: Optional[int] = None,
                     num_test: Optional[int] = None, split_name: str = 'synthdrive',
                     drives_per_date: int = 10, scan: LidarScan = LidarScan(),
                     logger: Optional[MMLogger] = None) -> dict:
    """Render ``num_sequences`` drives of ``num_frames`` frames into ``out_dir`` in the KITTI raw layout.

    Drive ``i`` goes to date ``i // drives_per_date`` (one rig, i.e. one calibration, per date) and is
    rendered from :func:`drive_seed` ``(seed, i)``; the drives are split in order into train, val
    (``num_val``, default 10 %, at least 1) and test (``num_test``, likewise) drives. A sequence needs at
    least 3 frames. The same arguments give byte-identical files. Returns a summary with
    ``num_frames_total``, ``seconds``, ``frames_per_s`` and ``frames_per_cpu_s``.
    """
    if style not in STYLES:
        raise KeyError(f'unknown SynthDrive style {style!r}; choose from {sorted(STYLES)}')
    if num_frames < 3:
        raise ValueError(f'num_frames={num_frames}: a SynthDrive sequence needs at least 3 frames (training '
                         'uses frame triplets -1, 0, +1; a single frame has no neighbour to warp from)')
    if num_sequences < 1 or drives_per_date < 1:
        raise ValueError(f'num_sequences ({num_sequences}) and drives_per_date ({drives_per_date}) must be '
                         '>= 1')
    if (num_sequences - 1) // drives_per_date >= 28:
        raise ValueError(f'{num_sequences} sequences at {drives_per_date} per date need more than 28 date '
                         'folders; raise drives_per_date')
    size = (int(size[0]), int(size[1]))
    counts = _split_counts(num_sequences, num_val, num_test)
    split_of = [s for s, c in zip(SPLITS, counts) for _ in range(c)]
    os.makedirs(out_dir, exist_ok=True)
    total = num_sequences * num_frames
    bar = ProgressBar(total) if logger is None else None
    drives, rigs = [], {}
    start, cpu_start, done = time.perf_counter(), time.process_time(), 0
    for i in range(num_sequences):
        d = i // drives_per_date
        date = date_name(d)
        if d not in rigs:
            rigs[d] = sample_rig(seed, d)
            write_calibration(osp.join(out_dir, date), rigs[d], size)
        drive_dir = osp.join(out_dir, date, drive_name(date, i))
        poses = []
        frames = render_sequence(drive_seed(seed, i), num_frames, size, style, rigs[d], scan)
        for frame, out in enumerate(frames):
            write_frame(drive_dir, frame, out)
            poses.append(out['pose'])
            done += 1
            if bar is not None:
                bar.update()
            elif done % max(1, total // 10) == 0:
                print_log(f'SynthDrive sequences: {done}/{total} frames', logger=logger)
        write_poses(osp.join(drive_dir, 'poses.txt'), poses)
        stamps = ''.join(t + '\n' for t in _timestamps(date, i % drives_per_date, num_frames))
        for sub in ('image_02', 'velodyne_points'):                  # the scan is taken with the image
            with open(osp.join(drive_dir, sub, 'timestamps.txt'), 'w') as f:
                f.write(stamps)
        drives.append({'folder': f'{date}/{drive_name(date, i)}', 'split': split_of[i], 'frames': num_frames,
                       'seed': drive_seed(seed, i)})
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    by_split = {s: [(x['folder'], x['frames']) for x in drives if x['split'] == s] for s in SPLITS}
    splits = write_splits(out_dir, split_name, by_split)
    meta = {
        'dataset': 'SynthDrive sequences', 'format_version': 1, 'generator': 'jdbench.datasets.synthdrive',
        'layout': 'KITTI raw', 'seed': seed, 'size': list(size), 'style': style,
        'num_sequences': num_sequences, 'num_frames': num_frames, 'drives_per_date': drives_per_date,
        'split_name': split_name,
        'split_files': {s: osp.relpath(p, out_dir) for s, p in splits.items()},
        'frame_interval_s': FRAME_INTERVAL, 'scan': {k: getattr(scan, k) for k in scan.__dataclass_fields__},
        'drives': drives, 'classes': list(CITYSCAPES_CLASSES), 'ignore_index': IGNORE,
        'depth': 'proj_depth/groundtruth/image_02: uint16 PNG, camera z-depth (m) * 256, 0 = no surface '
                 '(sky)',
        'pixels': 'P_rect_02 uses 1-based (MATLAB) pixel coordinates: 0-based pixel = round(u) - 1',
        'poses': 'poses.txt: camera-to-world 3x4 per frame, world = camera frame of frame 0 (x right, '
                 'y down, z forward)',
    }
    with open(osp.join(out_dir, SEQ_META_FILE), 'w') as f:
        json.dump(meta, f, indent=2)
    rate = total / seconds if seconds > 0 else float('inf')
    cpu_rate = total / cpu_seconds if cpu_seconds > 0 else float('inf')
    print_log(f'SynthDrive sequences: wrote {num_sequences} drives x {num_frames} frames '
              f'({size[0]}x{size[1]}, style {style}) to {out_dir} in {seconds:.1f} s: {rate:.1f} frames/s '
              f'({cpu_rate:.1f} per CPU second)', logger=logger)
    return {'out_dir': out_dir, 'num_sequences': num_sequences, 'num_frames': num_frames,
            'num_frames_total': total, 'size': size, 'seed': seed, 'style': style, 'split_files': splits,
            'seconds': seconds, 'frames_per_s': rate, 'cpu_seconds': cpu_seconds,
            'frames_per_cpu_s': cpu_rate, 'meta_file': osp.join(out_dir, SEQ_META_FILE)}
