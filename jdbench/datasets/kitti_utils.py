"""KITTI raw helpers: calibration files, velodyne scans, depth ground truth and its cache.

Conventions (KITTI raw devkit; Monodepth2's ``kitti_utils.py`` / ``export_gt_depth.py``):

- ``calib_cam_to_cam.txt`` holds ``key: numbers`` lines; ``P_rect_0c`` (3×4) projects rectified camera-0
  coordinates into the rectified image of camera ``c`` (2 = left colour, 3 = right colour), ``S_rect_0c`` is
  that image's size ``(w, h)``, ``R_rect_00`` (3×3) rectifies camera 0.
- ``calib_velo_to_cam.txt`` holds ``R`` (3×3, row-major) and ``T`` (3): velodyne -> camera 0 (unrectified).
- A scan ``velodyne_points/data/<10-digit>.bin`` is float32 ``N×4``: x forward, y left, z up, reflectance.
- Annotated depth (Uhrig et al. 2017) is a uint16 PNG, depth in metres ``= value / 256``, 0 = invalid.

The classic Eigen ground truth projects a scan with ``P_rect_0c · R_rect_00 · [R|T]`` and stores, per pixel,
the **velodyne x (forward) distance** of the point (not the camera z). Pixel ``(row, col) = (round(v) - 1,
round(u) - 1)`` (numpy's round, half to even; the ``-1`` matches the original MATLAB code), the image size is
``S_rect_0c``, pixels hit by several points keep the smallest depth, and negative depths become 0.
"""
import io
import os
import os.path as osp
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import mmengine.fileio as fileio
import numpy as np

CAMERAS = {'l': 2, 'r': 3, '2': 2, '3': 3}  # split-file side -> camera index (image_02 / image_03)
# Monodepth2's normalised intrinsics (kitti_dataset.py): rows 0 and 1 are multiplied by the image width and
# height. The principal point is assumed at the image centre.
MONODEPTH2_K = np.array([[0.58, 0, 0.5, 0], [0, 1.92, 0.5, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=np.float32)
ANNOTATED_DEPTH_SCALE = 256.0
VELODYNE_DEPTHS = ('x', 'z')
GT_CACHE_NAME = 'gt_depths.npz'
KITTI_RAW_URL = 'https://www.cvlibs.net/datasets/kitti/raw_data.php'
KITTI_DEPTH_URL = 'https://www.cvlibs.net/datasets/kitti/eval_depth.php?benchmark=depth_prediction'

CalibValue = Union[np.ndarray, str]


def camera_index(side: str) -> int:
    """Camera of a split-file side: ``'l'`` -> 2 (``image_02``), ``'r'`` -> 3 (``image_03``)."""
    if side not in CAMERAS:
        raise ValueError(f"side must be 'l' or 'r' (image_02 / image_03), got {side!r}")
    return CAMERAS[side]


# --------------------------------------------------------------------------------------------- calibration
def read_calib_file(path: str, backend_args: Optional[dict] = None) -> Dict[str, CalibValue]:
    """Parse a KITTI calibration file: ``key: v1 v2 ...`` per line.

    Returns:
        dict: key -> float64 array of the numbers, or the raw string when the value is not numeric
        (e.g. ``calib_time: 09-Jan-2012 13:57:47``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a non-empty line has no ``key:``.
    """
    try:
        text = fileio.get_text(path, backend_args=backend_args)
    except FileNotFoundError:
        raise FileNotFoundError(f'calibration file {path} does not exist') from None
    out: Dict[str, CalibValue] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if ':' not in line:
            raise ValueError(f'{path} line {n} ({line.strip()[:60]!r}) is not "key: values"; the file is '
                             'not a KITTI calibration file (re-extract the <date>_calib.zip).')
        key, value = line.split(':', 1)
        try:
            out[key.strip()] = np.array([float(v) for v in value.split()], dtype=np.float64)
        except ValueError:
            out[key.strip()] = value.strip()
    return out


def calib_entry(calib: Dict[str, CalibValue], key: str, size: int, path: str) -> np.ndarray:
    """``calib[key]`` as a float64 vector of ``size`` numbers, with errors that name ``path`` and the fix."""
    if key not in calib:
        numeric = sorted(k for k, v in calib.items() if isinstance(v, np.ndarray))
        raise ValueError(f'calibration file {path} has no {key} (it has {numeric}); a KITTI raw '
                         'calib_cam_to_cam.txt / calib_velo_to_cam.txt holds it: download the '
                         f'<date>_calib.zip of this date again ({KITTI_RAW_URL}), or render the SynthDrive '
                         'sequence again.')
    value = calib[key]
    if not isinstance(value, np.ndarray) or value.size != size:
        got = f'{value.size} numbers' if isinstance(value, np.ndarray) else repr(value)[:40]
        raise ValueError(f'calibration file {path}: {key} has {got}, expected {size} numbers; the file is '
                         'damaged (re-extract it).')
    return value


def image_size(cam2cam: Dict[str, CalibValue], cam: int, path: str) -> Tuple[int, int]:
    """``(h, w)`` of the rectified image of camera ``cam`` (``S_rect_0c`` = ``(w, h)``)."""
    w, h = calib_entry(cam2cam, f'S_rect_0{cam}', 2, path)
    return int(round(h)), int(round(w))


def intrinsics_from_calib(cam2cam: Dict[str, CalibValue], cam: int,
                          path: str) -> Tuple[np.ndarray, Tuple[int, int]]:
    """4×4 float32 intrinsics of camera ``cam`` for 0-based pixel coordinates, and the ``(h, w)`` they
    refer to (``S_rect_0c``).

    ``P_rect_0c`` is in KITTI's MATLAB (1-based) pixel coordinates (hence the ``- 1`` of the ground-truth rule),
    so K is its left 3×3 with 1 subtracted from ``cx`` and ``cy``: a point projects to the 0-based pixel
    coordinate ``K · X / z``, whose nearest pixel is the one the ground truth puts it in.
    """
    P = calib_entry(cam2cam, f'P_rect_0{cam}', 12, path).reshape(3, 4)
    K = np.eye(4, dtype=np.float32)
    K[:3, :3] = P[:, :3]
    K[:2, 2] -= 1
    return K, image_size(cam2cam, cam, path)


def velo_to_image_matrix(cam2cam: Dict[str, CalibValue], velo2cam: Dict[str, CalibValue], cam: int,
                         cam2cam_path: str, velo2cam_path: str) -> np.ndarray:
    """3×4 float64 ``P_rect_0c · R_rect_00 · [R|T]``: homogeneous velodyne point -> homogeneous pixel."""
    P = calib_entry(cam2cam, f'P_rect_0{cam}', 12, cam2cam_path).reshape(3, 4)
    R_rect = np.eye(4)
    R_rect[:3, :3] = calib_entry(cam2cam, 'R_rect_00', 9, cam2cam_path).reshape(3, 3)
    Tr = np.eye(4)
    Tr[:3, :3] = calib_entry(velo2cam, 'R', 9, velo2cam_path).reshape(3, 3)
    Tr[:3, 3] = calib_entry(velo2cam, 'T', 3, velo2cam_path)
    return P @ R_rect @ Tr


def scale_intrinsics(K: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """K of an image resized by ``sx`` (width) and ``sy`` (height): rows 0 and 1 scaled (Monodepth2)."""
    K = np.array(K, dtype=np.float32, copy=True)
    K[0, :] *= sx
    K[1, :] *= sy
    return K


# ------------------------------------------------------------------------------------------- ground truth
def read_velodyne(path: str, backend_args: Optional[dict] = None) -> np.ndarray:
    """A velodyne scan as float32 ``N×4`` (x forward, y left, z up, reflectance)."""
    try:
        buf = fileio.get(path, backend_args=backend_args)
    except FileNotFoundError:
        raise FileNotFoundError(f'velodyne scan {path} does not exist') from None
    if len(buf) % 16:
        raise ValueError(f'velodyne scan {path} has {len(buf)} bytes, not a multiple of 16 (float32 x, y, z, '
                         'reflectance per point): the file is truncated; extract the drive again.')
    return np.frombuffer(buf, dtype=np.float32).reshape(-1, 4)


def velo_to_depth_map(points: np.ndarray, velo_to_image: np.ndarray, shape: Tuple[int, int],
                      depth: str = 'x') -> np.ndarray:
    """Project a velodyne scan into a sparse depth map, as the classic Eigen ground truth.

    Args:
        points: ``N×3`` or ``N×4`` velodyne points (x forward, y left, z up[, reflectance]).
        velo_to_image: 3×4 projection (:func:`velo_to_image_matrix`).
        shape: ``(h, w)`` of the map (``S_rect_0c``).
        depth: ``'x'``: the velodyne forward distance (Monodepth2's ``export_gt_depth.py``,
            ``vel_depth=True``); ``'z'``: the camera z (its training loader, ``vel_depth=False``).

    Returns:
        float32 ``h×w``, 0 where no point lands. Points behind the scanner (``x < 0``) or not in front of the
        camera (camera z ≤ 0) are dropped; a pixel hit by several points keeps the smallest depth; negative
        depths become 0.

    Two details differ from Monodepth2's ``generate_depth_map`` and change nothing on real scans: it keeps
    points with ``0 ≤ x`` but camera z < 0 (within about 0.27 m of the scanner, where a real scan has no
    return), and its ``sub2ind`` also merges pixel ``(r, w-1)`` with ``(r+1, 0)`` (first and last columns,
    outside the Garg crop).
    """
    if depth not in VELODYNE_DEPTHS:
        raise ValueError(f'depth must be one of {VELODYNE_DEPTHS}, got {depth!r}')
    h, w = shape
    pts = np.asarray(points, dtype=np.float64)
    pts = pts[pts[:, 0] >= 0, :3]
    proj = np.concatenate([pts, np.ones((len(pts), 1))], axis=1) @ np.asarray(velo_to_image, np.float64).T
    z = proj[:, 2]
    front = z > 0
    proj, pts, z = proj[front], pts[front], z[front]
    col = np.round(proj[:, 0] / z) - 1
    row = np.round(proj[:, 1] / z) - 1
    inside = (col >= 0) & (row >= 0) & (col < w) & (row < h)
    values = (pts[:, 0] if depth == 'x' else z)[inside]
    out = np.full((h, w), np.inf)
    np.minimum.at(out, (row[inside].astype(np.int64), col[inside].astype(np.int64)), values)
    out[~np.isfinite(out)] = 0
    out[out < 0] = 0
    return out.astype(np.float32)


def read_annotated_depth(path: str, backend_args: Optional[dict] = None) -> np.ndarray:
    """Annotated depth PNG (uint16, metres · 256, 0 = invalid) -> float32 metres."""
    try:
        buf = fileio.get(path, backend_args=backend_args)
    except FileNotFoundError:
        raise FileNotFoundError(f'annotated depth {path} does not exist') from None
    raw = cv2.imdecode(np.frombuffer(buf, np.uint8), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise ValueError(f'annotated depth {path} is not a readable PNG; extract data_depth_annotated again.')
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise ValueError(f'annotated depth {path} is {raw.dtype} with shape {raw.shape}; the KITTI format is '
                         'a single-channel 16-bit PNG (metres * 256). An 8-bit file was re-saved or is not '
                         'depth: use the original data_depth_annotated files.')
    return (raw.astype(np.float32) / ANNOTATED_DEPTH_SCALE).astype(np.float32)


def depth_to_png(depth: np.ndarray) -> np.ndarray:
    """float metres -> uint16 ``round(depth * 256)`` (the annotated-depth format); invalid (≤ 0, non-finite)
    -> 0."""
    d = np.where(np.isfinite(depth) & (depth > 0), depth, 0.0).astype(np.float64) * ANNOTATED_DEPTH_SCALE
    if d.size and d.max() > np.iinfo(np.uint16).max:
        raise ValueError(f'depth {d.max() / ANNOTATED_DEPTH_SCALE:g} m does not fit the 16-bit annotated '
                         f'format (max {np.iinfo(np.uint16).max / ANNOTATED_DEPTH_SCALE:g} m)')
    return np.rint(d).astype(np.uint16)


# -------------------------------------------------------------------------------------------------- sparse
def to_sparse(depth: np.ndarray) -> Tuple[Tuple[int, int], np.ndarray, np.ndarray]:
    """A depth map as ``(shape, flat indices (int32), values (float32))`` of its non-zero pixels."""
    flat = np.asarray(depth, dtype=np.float32).reshape(-1)
    idx = np.flatnonzero(flat).astype(np.int32)
    return (int(depth.shape[0]), int(depth.shape[1])), idx, flat[idx].copy()


def from_sparse(sparse: Tuple[Tuple[int, int], np.ndarray, np.ndarray]) -> np.ndarray:
    """Inverse of :func:`to_sparse`: float32 ``h×w``, 0 elsewhere."""
    (h, w), idx, val = sparse
    out = np.zeros(h * w, dtype=np.float32)
    out[idx] = val
    return out.reshape(h, w)


# --------------------------------------------------------------------------------------------------- cache
def save_gt_cache(path: str, depths: Sequence[np.ndarray], lines: Optional[Sequence[str]] = None) -> None:
    """Write ground-truth depth maps to ``path`` (``.npz``) as Monodepth2's ``gt_depths.npz``.

    Key ``data`` is a 1-D **object** array of float32 ``h×w`` maps (sizes differ by date, so a plain array
    would be ragged, which numpy ≥ 1.24 refuses); key ``lines`` (optional) holds the split-file lines, so a
    reader can check the cache belongs to its split. Written compressed to a temporary file in the same
    folder, then renamed: an existing cache is replaced only by a complete one. Read it with
    :func:`load_gt_cache` (``np.load(path, allow_pickle=True)``).
    """
    data = np.empty(len(depths), dtype=object)
    for i, d in enumerate(depths):
        data[i] = np.asarray(d, dtype=np.float32)
    arrays = dict(data=data)
    if lines is not None:
        if len(lines) != len(depths):
            raise ValueError(f'{len(lines)} lines for {len(depths)} depth maps')
        arrays['lines'] = np.array(list(lines), dtype=str)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.gt_depths-', suffix='.npz', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            np.savez_compressed(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def load_gt_cache(path: str,
                  backend_args: Optional[dict] = None) -> Tuple[List[np.ndarray], Optional[List[str]]]:
    """Read a ground-truth cache: ``(depth maps (float32), split lines or None)``.

    Accepts the object array this module writes and Monodepth2's own files (an object array, or a 3-D float
    array when every map has the same size). It is unpickled (``allow_pickle=True``): read only caches you
    made.
    """
    try:
        buf = fileio.get(path, backend_args=backend_args)
    except FileNotFoundError:
        raise FileNotFoundError(f'ground-truth cache {path} does not exist; write it with python '
                                'tools/dataset_converters/kitti_gt.py <data_root> <split file>') from None
    redo = 'write it again with tools/dataset_converters/kitti_gt.py'
    try:
        npz = np.load(io.BytesIO(buf), allow_pickle=True)
    except Exception as e:  # noqa: BLE001  (BadZipFile, OSError, ...: a damaged file)
        raise ValueError(f'ground-truth cache {path} is not a readable .npz ({type(e).__name__}: {e}); '
                         f'{redo}.') from e
    with npz:
        if 'data' not in npz.files:
            raise ValueError(f'ground-truth cache {path} has no key "data" (it has {npz.files}); {redo}.')
        try:
            data = npz['data']
            lines = [str(s) for s in npz['lines']] if 'lines' in npz.files else None
        except Exception as e:  # noqa: BLE001  (truncated members, unpickling errors)
            raise ValueError(f'ground-truth cache {path} cannot be read ({type(e).__name__}: {e}); '
                             f'{redo}.') from e
    maps = [np.asarray(d, dtype=np.float32) for d in data]
    bad = [i for i, d in enumerate(maps) if d.ndim != 2]
    if bad:
        raise ValueError(f'ground-truth cache {path}: entry {bad[0]} has shape {maps[bad[0]].shape}, not '
                         'h×w.')
    return maps, lines


# ------------------------------------------------------------------------------------------ one data info
def load_gt_depth(info: dict, backend_args: Optional[dict] = None) -> Optional[np.ndarray]:
    """The depth ground truth of a :class:`~jdbench.datasets.KITTIRawDataset` data info (float32 metres,
    0 = invalid, at its own size), by ``info['gt_source']``: ``'velodyne'``, ``'annotated'``, ``'cache'``;
    None when it has none."""
    source = info.get('gt_source')
    if source is None:
        return None
    if source == 'velodyne':
        points = read_velodyne(info['velo_path'], backend_args)
        return velo_to_depth_map(points, info['velo_to_image'], tuple(info['gt_shape']),
                                 info.get('velodyne_depth', 'x'))
    if source == 'annotated':
        return read_annotated_depth(info['gt_depth_path'], backend_args)
    if source == 'cache':
        return from_sparse(info['gt_sparse'])
    raise ValueError(f"unknown gt_source {source!r}; expected 'velodyne', 'annotated', 'cache' or None")
