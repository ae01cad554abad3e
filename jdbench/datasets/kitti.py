"""KITTI raw with Monodepth2's split files: frame sequences, intrinsics and depth ground truth.

Layout under ``data_root`` (the KITTI raw download; SynthDrive sequences write the same)::

    <date>/calib_cam_to_cam.txt, calib_velo_to_cam.txt
    <date>/<date>_drive_<NNNN>_sync/image_0{2,3}/data/<10-digit>.png
    <date>/<date>_drive_<NNNN>_sync/velodyne_points/data/<10-digit>.bin
    <date>/<date>_drive_<NNNN>_sync/proj_depth/groundtruth/image_0{2,3}/<10-digit>.png   (SynthDrive)
    <date>/<date>_drive_<NNNN>_sync/semantic/image_0{2,3}/<10-digit>.png               (SynthDrive, optional)
    splits/<split>/{train,val,test}_files.txt    lines "<date>/<date>_drive_<NNNN>_sync <frame> <l|r>"

Real KITTI keeps the annotated depth in the separate ``data_depth_annotated`` tree
(``{train,val}/<date>_drive_<NNNN>_sync/proj_depth/groundtruth/image_0{2,3}/``): set ``annotated_root``.
"""
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Set, Tuple

import mmengine.fileio as fileio
import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from jdbench.registry import DATASETS
from .cityscapes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from .kitti_utils import (GT_CACHE_NAME, KITTI_DEPTH_URL, KITTI_RAW_URL, MONODEPTH2_K, VELODYNE_DEPTHS,
                          camera_index, image_size, intrinsics_from_calib, load_gt_cache, read_calib_file,
                          to_sparse, velo_to_image_matrix)

GT_SOURCES = ('velodyne', 'annotated', 'cache', None)
INTRINSICS = ('calib', 'monodepth2')
CAM_TO_CAM = 'calib_cam_to_cam.txt'
VELO_TO_CAM = 'calib_velo_to_cam.txt'
FILTER_HINT = ('python tools/dataset_converters/kitti_gt.py {root} {split} --filter-frames {offsets} '
               '--out <filtered split file>')
# What to do when a ground-truth or label file is missing, by what it is.
MISSING_FIX = {
    'velodyne scan': f'extract the drive with its velodyne_points ({KITTI_RAW_URL})',
    'annotated depth': (f'download data_depth_annotated ({KITTI_DEPTH_URL}) and set annotated_root; it has '
                        "no ground truth for the first and last 5 frames of a drive (use gt='velodyne' "
                        'there)'),
    'semantic label': 'only SynthDrive writes semantic/ labels; set with_seg=False for KITTI',
}


def parse_split_line(line: str, n: int, path: str) -> Tuple[str, int, str]:
    """``"<folder> <frame> [l|r]"`` -> ``(folder, frame, side)`` (side defaults to ``'l'``, as Monodepth2)."""
    parts = line.split()
    if len(parts) not in (2, 3):
        raise ValueError(f'split file {path} line {n} ({line!r}) is not "<date>/<drive>_sync <frame> <l|r>" '
                         "(Monodepth2's split format).")
    side = parts[2] if len(parts) == 3 else 'l'
    try:
        frame = int(parts[1])
        camera_index(side)
    except ValueError:
        raise ValueError(f'split file {path} line {n} ({line!r}): the frame must be an integer and the side '
                         "'l' or 'r'.") from None
    if frame < 0:
        raise ValueError(f'split file {path} line {n} ({line!r}): negative frame index.')
    return parts[0].strip('/'), frame, side


def read_split_file(path: str, backend_args: Optional[dict] = None) -> List[Tuple[int, str]]:
    """Non-empty lines of a split file as ``(line number, stripped line)``."""
    try:
        text = fileio.get_text(path, backend_args=backend_args)
    except FileNotFoundError:
        raise FileNotFoundError(
            f'split file {path} does not exist. For KITTI, copy the splits/ folder of nianticlabs/monodepth2 '
            '(eigen_zhou, eigen, eigen_benchmark, ...) into data_root; SynthDrive sequences write their own. '
            'split_file is relative to data_root unless absolute.') from None
    lines = [(n, ln.strip()) for n, ln in enumerate(text.splitlines(), 1) if ln.strip()]
    if not lines:
        raise ValueError(f'split file {path} is empty.')
    return lines


def frame_name(frame: int, suffix: str) -> str:
    """``69, '.png'`` -> ``'0000000069.png'``."""
    return f'{frame:010d}{suffix}'


class _Listing:
    """Cached sets of frame indices in folders (one directory listing per folder)."""

    def __init__(self, backend_args: Optional[dict]) -> None:
        self.backend_args = backend_args
        self._cache: Dict[Tuple[str, str], Optional[Set[int]]] = {}

    def frames(self, folder: str, suffix: str) -> Optional[Set[int]]:
        """Indices of the ``<10-digit><suffix>`` files in ``folder``; None when the folder does not exist."""
        key = (folder, suffix)
        if key not in self._cache:
            if not fileio.isdir(folder, backend_args=self.backend_args):
                self._cache[key] = None
            else:
                names = fileio.list_dir_or_file(folder, list_dir=False, suffix=suffix,
                                                backend_args=self.backend_args)
                stems = (n[:-len(suffix)] for n in names)
                self._cache[key] = {int(s) for s in stems if s.isdigit()}
        return self._cache[key]


@DATASETS.register_module()
class KITTIRawDataset(BaseDataset):
    """KITTI raw (or a SynthDrive sequence in its layout) read through a Monodepth2 split file.

    One item per split-file line: the frames ``frame_index + frame_ids`` of that drive and camera
    (``l`` -> ``image_02``, ``r`` -> ``image_03``), their intrinsics and, for evaluation, the depth ground
    truth of frame 0. Load it with ``LoadSequenceFromFile`` (``jdbench/datasets/transforms/sequence.py``).
    Every file an item needs is checked at construction (one directory listing per folder), so a bad split
    or a missing file fails at once with the line, the file and what to do.

    Data info keys: ``img_paths`` (one per frame id), ``img_path`` (frame 0), ``frame_ids``, ``folder``,
    ``frame_index``, ``side``, ``split_line``, ``K`` (4×4 float32) with ``K_shape`` (the ``(h, w)`` it
    refers to; (1, 1) for a normalised K, which the loader scales to the image), ``gt_source`` and its keys
    (``velo_path``, ``velo_to_image``, ``gt_shape``, ``velodyne_depth``; ``gt_depth_path``; ``gt_sparse``),
    ``seg_map_path``, ``poses``.

    Args:
        split_file (str): A Monodepth2 split file (``<folder> <frame> <l|r>`` per line), relative to
            ``data_root`` or absolute, e.g. ``'splits/eigen_zhou/train_files.txt'``.
        frame_ids (Sequence[int]): Frame offsets per item, frame 0 first by convention. Defaults to
            ``(0, -1, 1)`` (training); ``(0,)`` for evaluation.
        intrinsics (str): ``'calib'``: ``P_rect_0c`` of the date's ``calib_cam_to_cam.txt``, scaled from
            ``S_rect_0c`` to the image; ``'monodepth2'``: Monodepth2's fixed normalised K (fx = 0.58 W,
            fy = 1.92 H, centred principal point) for every date. Defaults to ``'calib'``.
        gt (str, optional): Depth ground truth of frame 0: ``'velodyne'`` (the scan projected with the
            calibration, the classic Eigen GT; size ``S_rect_0c``), ``'annotated'``
            (``proj_depth/groundtruth`` uint16 PNGs / 256), ``'cache'`` (a ``gt_depths.npz`` of
            ``tools/dataset_converters/kitti_gt.py``, one map per split line) or None (training).
        velodyne_depth (str): ``'x'`` (velodyne forward distance, Monodepth2's ``export_gt_depth.py``) or
            ``'z'`` (camera z).
        annotated_root (str, optional): Root of the ``data_depth_annotated`` tree
            (``{train,val}/<drive>/...``), relative to ``data_root`` or absolute. None: ``proj_depth``
            inside each drive folder.
        gt_cache (str, optional): The cache for ``gt='cache'``, relative to ``data_root`` or absolute.
            None: ``gt_depths.npz`` beside the split file.
        with_seg (bool): Load ``semantic/image_0c/<frame>.png`` of frame 0 as ``gt_seg_map`` (uint8
            Cityscapes train IDs, 255 = ignore; SynthDrive writes them).
        with_poses (bool): Each frame's cam-to-world pose from the drive's ``poses.txt`` (SynthDrive).
        img_suffix (str): Image file ending: ``'.png'`` (the download) or ``'.jpg'`` (Monodepth2's
            conversion).
        backend_args (dict, optional): mmengine file backend arguments.
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments (``data_root``, ``pipeline``, ...).
    """
    METAINFO = dict(classes=CITYSCAPES_CLASSES, palette=CITYSCAPES_PALETTE)

    def __init__(self,
                 split_file: str,
                 frame_ids: Sequence[int] = (0, -1, 1),
                 intrinsics: str = 'calib',
                 gt: Optional[str] = None,
                 velodyne_depth: str = 'x',
                 annotated_root: Optional[str] = None,
                 gt_cache: Optional[str] = None,
                 with_seg: bool = False,
                 with_poses: bool = False,
                 img_suffix: str = '.png',
                 backend_args: Optional[dict] = None,
                 **kwargs) -> None:
        frame_ids = tuple(frame_ids)
        if not frame_ids or not all(isinstance(f, (int, np.integer)) and not isinstance(f, bool)
                                    for f in frame_ids):
            raise ValueError('frame_ids must be a non-empty sequence of integer offsets, e.g. (0, -1, 1); '
                             f'got {frame_ids!r} (stereo frames "s" are not supported).')
        if len(set(frame_ids)) != len(frame_ids):
            raise ValueError(f'frame_ids {frame_ids} repeats an offset.')
        for name, value, allowed in (('intrinsics', intrinsics, INTRINSICS), ('gt', gt, GT_SOURCES),
                                     ('velodyne_depth', velodyne_depth, VELODYNE_DEPTHS)):
            if value not in allowed:
                raise ValueError(f'{name} must be one of {allowed}, got {value!r}')
        root = kwargs.get('data_root')
        if not root:
            raise ValueError('KITTIRawDataset needs data_root (the folder with the <date>/ folders).')
        self.split_file = split_file
        self.frame_ids = tuple(int(f) for f in frame_ids)
        self.intrinsics = intrinsics
        self.gt = gt
        self.velodyne_depth = velodyne_depth
        # osp.join keeps an absolute second part as it is
        self.annotated_root = None if annotated_root is None else osp.join(root, annotated_root)
        self.gt_cache = None if gt_cache is None else osp.join(root, gt_cache)
        self.with_seg = with_seg
        self.with_poses = with_poses
        self.img_suffix = img_suffix
        self.backend_args = backend_args
        kwargs.setdefault('data_prefix', {})
        super().__init__(ann_file=split_file, **kwargs)
        self._metainfo.update(frame_ids=self.frame_ids, intrinsics=intrinsics, gt=gt)

    # ----------------------------------------------------------------------------------------- helpers
    def _calib(self, date: str, drive: str, n: int, cache: dict) -> dict:
        """Parsed calibration files of ``date`` (cached): ``{name: (dict, path)}``; none is an error."""
        names = (CAM_TO_CAM, VELO_TO_CAM) if self.gt == 'velodyne' else (CAM_TO_CAM, )
        if date not in cache:
            cache[date] = {}
            for name in names:
                path = osp.join(self.data_root, date, name)
                if not fileio.isfile(path, backend_args=self.backend_args):
                    raise FileNotFoundError(
                        f'drive {drive} (split file {self.ann_file} line {n}) has no calibration: {path} '
                        f'does not exist. KITTI raw: download {date}_calib.zip ({KITTI_RAW_URL}) and unzip '
                        f'it into {self.data_root}; SynthDrive: render the sequence again.')
                cache[date][name] = (read_calib_file(path, self.backend_args), path)
        return cache[date]

    def _camera(self, date: str, folder: str, n: int, cam: int, cache: dict) -> dict:
        """``K``/``K_shape`` and, for velodyne ground truth, ``velo_to_image``/``gt_shape`` of a camera."""
        cams = cache.setdefault('cameras', {})
        if (date, cam) in cams:
            return cams[(date, cam)]
        out = dict(K=MONODEPTH2_K, K_shape=(1, 1))
        if self.intrinsics == 'calib' or self.gt == 'velodyne':
            calib = self._calib(date, folder, n, cache.setdefault('files', {}))
            cam2cam, cpath = calib[CAM_TO_CAM]
            if self.intrinsics == 'calib':
                out['K'], out['K_shape'] = intrinsics_from_calib(cam2cam, cam, cpath)
            if self.gt == 'velodyne':
                velo2cam, vpath = calib[VELO_TO_CAM]
                out.update(velo_to_image=velo_to_image_matrix(cam2cam, velo2cam, cam, cpath, vpath),
                           gt_shape=image_size(cam2cam, cam, cpath))
        cams[(date, cam)] = out
        return out

    def _annotated_dir(self, drive_dir: str, drive: str, cam: int) -> str:
        """``proj_depth/groundtruth/image_0c`` of a drive: in the drive folder, or in ``annotated_root``
        (``{train,val}/<drive>/``, or ``<drive>/`` directly)."""
        rel = osp.join('proj_depth', 'groundtruth', f'image_0{cam}')
        if self.annotated_root is None:
            return osp.join(drive_dir, rel)
        for part in ('train', 'val', ''):
            folder = osp.join(self.annotated_root, part, drive)
            if fileio.isdir(folder, backend_args=self.backend_args):
                return osp.join(folder, rel)
        return osp.join(self.annotated_root, '{train,val}', drive, rel)

    def _frame_problem(self, frames: Set[int], img_dir: str, frame: int, drive: str) -> Optional[tuple]:
        """``(kind, message)`` for the first frame of ``frame + frame_ids`` that is not in ``frames``."""
        for off in self.frame_ids:
            idx = frame + off
            if idx in frames:
                continue
            lo, hi = min(frames), max(frames)
            path = osp.join(img_dir, frame_name(idx, self.img_suffix))
            if off == 0:
                return 'frame', (
                    f'frame {frame} does not exist: {path} is missing (the drive has frames {lo}..{hi}). The '
                    'split file names frames that are not in this data: check data_root and the split, or '
                    'extract the drive again.')
            if lo <= idx <= hi:
                return 'frame', (
                    f'missing frame: {path} does not exist (frame {frame}{off:+d}, needed by '
                    f'frame_ids={self.frame_ids}; the drive has frames {lo}..{hi} with gaps). Extract the '
                    'drive again.')
            hint = FILTER_HINT.format(root=self.data_root, split=self.split_file,
                                      offsets=' '.join(str(o) for o in self.frame_ids if o))
            return 'boundary', (
                f'frame {frame} is at the {"start" if idx < lo else "end"} of drive {drive} (frames '
                f'{lo}..{hi}), which has no frame {idx} (= {frame}{off:+d}) for frame_ids={self.frame_ids}. '
                "A training split must leave out the first and last frames of each drive (Monodepth2's "
                f'splits do). Filter the split with\n  {hint}\nor use frame_ids=(0,) for evaluation.')
        return None

    def _need(self, listing: _Listing, folder: str, frame: int, suffix: str, what: str) -> Tuple[str, str]:
        """``(path, problem or '')`` of frame ``frame``'s file in ``folder``."""
        path = osp.join(folder, frame_name(frame, suffix))
        frames = listing.frames(folder, suffix)
        if frames is not None and frame in frames:
            return path, ''
        where = 'folder does not exist' if frames is None else 'file is missing'
        return path, f'{what} {path} does not exist ({where}): {MISSING_FIX[what]}.'

    # --------------------------------------------------------------------------------------- data list
    def load_data_list(self) -> List[dict]:
        """Parse the split file and check every file each item needs."""
        lines = read_split_file(self.ann_file, self.backend_args)
        listing = _Listing(self.backend_args)
        calib_cache: dict = {}
        drives: Dict[str, bool] = {}
        problems: Dict[str, List[tuple]] = defaultdict(list)
        data_list = []
        for n, line in lines:
            folder, frame, side = parse_split_line(line, n, self.ann_file)
            date, drive = osp.split(folder)
            drive_dir = osp.join(self.data_root, folder)
            if drive_dir not in drives:
                drives[drive_dir] = bool(date) and fileio.isdir(drive_dir, backend_args=self.backend_args)
            if not drives[drive_dir]:
                problems['drive'].append((n, line, (
                    f'drive folder {drive_dir} does not exist. KITTI raw: download {drive or folder}.zip '
                    f'({KITTI_RAW_URL}) and unzip it into {osp.join(self.data_root, date)}; check data_root '
                    'and that the split belongs to this data.')))
                continue
            img_dir = osp.join(drive_dir, f'image_0{camera_index(side)}', 'data')
            frames = listing.frames(img_dir, self.img_suffix)
            if frames:
                problem = self._frame_problem(frames, img_dir, frame, drive)
            else:
                problem = ('frame', f'{img_dir} holds no *{self.img_suffix} frames; extract the drive '
                           "again (or set img_suffix: '.png' for the download, '.jpg' for Monodepth2's "
                           'conversion).')
            if problem:
                problems[problem[0]].append((n, line, problem[1]))
                continue
            info, missing = self._item(listing, calib_cache, n, line, folder, frame, side, img_dir)
            problems['gt'] += [(n, line, m) for m in missing]
            data_list.append(info)
        for kind in ('drive', 'frame', 'boundary', 'gt'):
            if problems[kind]:
                n, line, msg = problems[kind][0]
                more = problems[kind][1:]
                more = f' ({len(more)} more line(s) have the same problem)' if more else ''
                error = ValueError if kind == 'boundary' else FileNotFoundError
                raise error(f'split file {self.ann_file} line {n} ({line!r}): {msg}{more}')
        if self.gt == 'cache':
            self._attach_cache(data_list, [ln for _, ln in lines])
        if self.with_poses:
            self._attach_poses(data_list)
        print_log(f'{self.__class__.__name__}: {len(data_list)} items from {self.ann_file} '
                  f'(frame_ids={self.frame_ids}, intrinsics={self.intrinsics!r}, gt={self.gt!r}).',
                  logger='current')
        return data_list

    def _item(self, listing: _Listing, calib_cache: dict, n: int, line: str, folder: str, frame: int,
              side: str, img_dir: str) -> Tuple[dict, List[str]]:
        """The data info of one checked line, and the problems with its ground-truth / label files."""
        cam = camera_index(side)
        date, drive = osp.split(folder)
        drive_dir = osp.join(self.data_root, folder)
        img_paths = [osp.join(img_dir, frame_name(frame + off, self.img_suffix)) for off in self.frame_ids]
        info = dict(img_paths=img_paths, img_path=img_paths[0], frame_ids=self.frame_ids, folder=folder,
                    frame_index=frame, side=side, split_line=line, seg_fields=[], reduce_zero_label=False,
                    gt_source=self.gt)
        missing = []
        info.update(self._camera(date, folder, n, cam, calib_cache))
        if self.gt == 'velodyne':
            info['velodyne_depth'] = self.velodyne_depth
            velo_dir = osp.join(drive_dir, 'velodyne_points', 'data')
            info['velo_path'], problem = self._need(listing, velo_dir, frame, '.bin', 'velodyne scan')
            missing.append(problem)
        elif self.gt == 'annotated':
            ann_dir = self._annotated_dir(drive_dir, drive, cam)
            info['gt_depth_path'], problem = self._need(listing, ann_dir, frame, '.png', 'annotated depth')
            missing.append(problem)
        if self.with_seg:
            sem_dir = osp.join(drive_dir, 'semantic', f'image_0{cam}')
            info['seg_map_path'], problem = self._need(listing, sem_dir, frame, '.png', 'semantic label')
            info['seg_fields'] = ['gt_seg_map']
            missing.append(problem)
        if self.with_poses:
            info['pose_path'] = osp.join(drive_dir, 'poses.txt')
        return info, [m for m in missing if m]

    def _attach_cache(self, data_list: List[dict], lines: List[str]) -> None:
        """Store each line's cached ground truth (sparse) in its data info."""
        path = self.gt_cache or osp.join(osp.dirname(self.ann_file), GT_CACHE_NAME)
        maps, cached_lines = load_gt_cache(path, self.backend_args)
        redo = (f'write it again: python tools/dataset_converters/kitti_gt.py {self.data_root} '
                f'{self.split_file}')
        if len(maps) != len(lines):
            raise ValueError(f'ground-truth cache {path} holds {len(maps)} maps but split file '
                             f'{self.ann_file} has {len(lines)} lines: the cache belongs to another split; '
                             f'{redo}.')
        if cached_lines is not None and cached_lines != lines:
            i = next(i for i, (a, b) in enumerate(zip(cached_lines, lines)) if a != b)
            raise ValueError(f'ground-truth cache {path} was written for another split: its entry {i} is '
                             f'{cached_lines[i]!r} but line {i + 1} of {self.ann_file} is {lines[i]!r}; '
                             f'{redo}.')
        for info, depth in zip(data_list, maps):
            info['gt_sparse'] = to_sparse(depth)
            info['gt_cache_path'] = path

    def _attach_poses(self, data_list: List[dict]) -> None:
        """Each frame's 4×4 cam-to-world pose from ``<drive>/poses.txt`` (12 numbers per line, line k =
        frame k)."""
        poses: Dict[str, np.ndarray] = {}
        for info in data_list:
            path = info['pose_path']
            if path not in poses:
                try:
                    text = fileio.get_text(path, backend_args=self.backend_args)
                except FileNotFoundError:
                    raise FileNotFoundError(f'{path} does not exist; only SynthDrive sequences write '
                                            'poses.txt: set with_poses=False for KITTI.') from None
                rows = [ln.split() for ln in text.splitlines() if ln.strip()]
                if any(len(r) != 12 for r in rows):
                    raise ValueError(f'{path}: every line must hold 12 numbers (a row-major 3×4 cam-to-world '
                                     'matrix); render the sequence again.')
                mats = np.tile(np.eye(4), (len(rows), 1, 1))
                mats[:, :3, :] = np.array(rows, dtype=np.float64).reshape(-1, 3, 4)
                poses[path] = mats
            mats = poses[path]
            idx = [info['frame_index'] + off for off in info['frame_ids']]
            if max(idx) >= len(mats):
                raise ValueError(f'{path} has {len(mats)} poses but frame {max(idx)} is needed; render the '
                                 'sequence again.')
            info['poses'] = mats[idx].astype(np.float32)


def filter_split_lines(data_root: str, split_file: str, frame_ids: Sequence[int], img_suffix: str = '.png',
                       backend_args: Optional[dict] = None) -> Tuple[List[str], List[Tuple[int, str]]]:
    """Split lines whose frames ``frame + frame_ids`` all exist under ``data_root``, and the dropped ones.

    ``split_file`` is relative to ``data_root`` unless absolute. Returns ``(kept lines, [(line number,
    line)] dropped)``; a drive that does not exist at all is an error (a wrong ``data_root``).
    """
    path = split_file if osp.isabs(split_file) else osp.join(data_root, split_file)
    listing = _Listing(backend_args)
    kept, dropped = [], []
    for n, line in read_split_file(path, backend_args):
        folder, frame, side = parse_split_line(line, n, path)
        img_dir = osp.join(data_root, folder, f'image_0{camera_index(side)}', 'data')
        frames = listing.frames(img_dir, img_suffix)
        if frames is None:
            raise FileNotFoundError(f'split file {path} line {n} ({line!r}): {img_dir} does not exist; check '
                                    'data_root (the drives must be there to filter the split).')
        if all(frame + off in frames for off in frame_ids):
            kept.append(line)
        else:
            dropped.append((n, line))
    return kept, dropped
