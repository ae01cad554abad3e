"""Loading of Cityscapes-format joint annotations: train-ID labels and disparity -> depth.

Cityscapes stores disparity as a uint16 PNG with ``p = d * 256 + 1`` for a valid disparity ``d`` (pixels) and
``p = 0`` for invalid pixels. With the stereo baseline ``b`` (m) and focal length ``fx`` (px) of the image's
``*_camera.json``, metric z-depth is ``z = b * fx / d``.
"""
import json
from typing import Dict, Optional

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.datasets.transforms import LoadAnnotations

from jdbench.registry import TRANSFORMS

DEPTH_MODES = ('metric', 'disparity')

# Fields every ``*_camera.json`` must hold (the Cityscapes camera format).
CAMERA_FIELDS: Dict[str, tuple] = {
    'extrinsic': ('baseline', 'pitch', 'roll', 'yaw', 'x', 'y', 'z'),
    'intrinsic': ('fx', 'fy', 'u0', 'v0'),
}


def load_camera(path: str, backend_args: Optional[dict] = None) -> Dict[str, float]:
    """Read and validate a Cityscapes ``*_camera.json``.

    Returns:
        dict: ``baseline`` (m), ``fx``, ``fy``, ``u0``, ``v0`` (px) as floats.
    """
    try:
        cam = json.loads(fileio.get_text(path, backend_args=backend_args))
    except FileNotFoundError:
        raise FileNotFoundError(f'Camera file {path} is missing; every image needs its *_camera.json '
                                '(Cityscapes camera_trainvaltest.zip).') from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f'Camera file {path} is not valid JSON ({e}); re-extract or regenerate it.') from e
    missing = [f'{group}.{key}' for group, keys in CAMERA_FIELDS.items() for key in keys
               if not isinstance(cam, dict) or not isinstance(cam.get(group), dict) or key not in cam[group]]
    if missing:
        raise ValueError(f'Camera file {path} lacks field(s) {", ".join(missing)}; a Cityscapes camera json '
                         'has {"extrinsic": {"baseline", "pitch", "roll", "yaw", "x", "y", "z"}, '
                         '"intrinsic": {"fx", "fy", "u0", "v0"}}.')
    try:
        out = {k: float(cam['extrinsic' if k == 'baseline' else 'intrinsic'][k])
               for k in ('baseline', 'fx', 'fy', 'u0', 'v0')}
    except (TypeError, ValueError) as e:
        raise ValueError(f'Camera file {path} has a non-numeric baseline/intrinsic value ({e}).') from e
    if not (out['baseline'] > 0 and out['fx'] > 0):
        raise ValueError(f'Camera file {path} has baseline={out["baseline"]}, fx={out["fx"]}; both must be '
                         '> 0 to convert disparity to depth.')
    return out


def disparity_to_depth(raw: np.ndarray, baseline: float, fx: float, depth_mode: str = 'metric') -> np.ndarray:
    """Decode a Cityscapes disparity PNG (``p = d * 256 + 1``, 0 = invalid) into a float32 ``H×W`` map.

    ``depth_mode='metric'``: z-depth ``baseline * fx / d`` in metres. ``'disparity'``: ``d`` itself in pixels
    (inverse depth up to the constant ``baseline * fx``, the MTAN convention). Both give 0 where invalid, i.e.
    ``p == 0`` and ``p == 1`` (zero disparity = infinitely far).
    """
    if depth_mode not in DEPTH_MODES:
        raise ValueError(f'depth_mode must be one of {DEPTH_MODES}, got {depth_mode!r}')
    disp = np.maximum(raw.astype(np.float64) - 1.0, 0.0) / 256.0
    if depth_mode == 'disparity':
        return disp.astype(np.float32)
    depth = np.zeros_like(disp)
    valid = disp > 0
    depth[valid] = baseline * fx / disp[valid]
    return depth.astype(np.float32)


def _read_png(path: str, what: str, backend_args: Optional[dict] = None) -> np.ndarray:
    """Read a PNG unchanged (bit depth and channels kept), with errors that name ``path``."""
    try:
        data = fileio.get(path, backend_args=backend_args)
    except FileNotFoundError:
        raise FileNotFoundError(f'{what} file {path} is missing.') from None
    try:
        arr = mmcv.imfrombytes(data, flag='unchanged', backend='cv2')
    except Exception as e:  # noqa: BLE001  (any decoder error is reported the same way)
        arr, err = None, f' ({e})'
    else:
        err = ''
    if arr is None:
        raise ValueError(f'Cannot decode {what} file {path}{err}: it is unreadable or corrupt; '
                         're-extract or regenerate it.')
    return arr


def _check_shape(arr: np.ndarray, results: dict, path: str, what: str) -> None:
    ori_shape = results.get('ori_shape')
    if ori_shape is not None and tuple(arr.shape[:2]) != tuple(ori_shape[:2]):
        raise ValueError(f'{what} file {path} is {arr.shape[0]}x{arr.shape[1]} but its image '
                         f'{results.get("img_path")} is {ori_shape[0]}x{ori_shape[1]}.')


@TRANSFORMS.register_module()
class LoadCityscapesDepth(BaseTransform):
    """Load a Cityscapes disparity PNG and convert it with the image's camera into ``gt_depth_map``.

    Required keys: ``disparity_path``, and ``camera`` (dict with ``baseline``, ``fx``) or ``camera_path``;
    optional ``depth_mode`` (set by the dataset). Added keys: ``gt_depth_map`` (float32 ``H×W``, 0 = invalid,
    metres or disparity pixels), ``depth_mode``; ``'gt_depth_map'`` is appended to ``seg_fields``.

    Args:
        depth_mode (str, optional): ``'metric'`` or ``'disparity'`` (see :func:`disparity_to_depth`).
            None: take ``results['depth_mode']``, default ``'metric'``.
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self, depth_mode: Optional[str] = None, backend_args: Optional[dict] = None) -> None:
        if depth_mode is not None and depth_mode not in DEPTH_MODES:
            raise ValueError(f'depth_mode must be one of {DEPTH_MODES} or None, got {depth_mode!r}')
        self.depth_mode = depth_mode
        self.backend_args = backend_args.copy() if backend_args else None

    def transform(self, results: dict) -> dict:
        """Add ``gt_depth_map`` to ``results``."""
        path = results['disparity_path']
        camera = results.get('camera') or load_camera(results['camera_path'], self.backend_args)
        depth_mode = self.depth_mode or results.get('depth_mode', 'metric')
        raw = _read_png(path, 'Disparity', self.backend_args)
        if raw.ndim != 2 or raw.dtype != np.uint16:
            raise ValueError(f'Disparity file {path} is {raw.dtype} with shape {raw.shape}; expected a '
                             'single-channel 16-bit PNG (Cityscapes encoding p = disparity * 256 + 1, '
                             '0 = invalid).')
        _check_shape(raw, results, path, 'Disparity')
        results['gt_depth_map'] = disparity_to_depth(raw, camera['baseline'], camera['fx'], depth_mode)
        results['depth_mode'] = depth_mode
        results.setdefault('seg_fields', []).append('gt_depth_map')
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(depth_mode={self.depth_mode!r}, backend_args={self.backend_args})'


@TRANSFORMS.register_module()
class LoadJointAnnotations(LoadAnnotations):
    """Load train-ID labels (``gt_seg_map``) and disparity -> depth (``gt_depth_map``) of one sample.

    Labels are read from ``seg_map_path`` (uint8 train IDs, 255 = ignore), checked against the keys of
    ``results['label_map']`` (set by the dataset: every valid raw value) and mapped through it (identity for
    train IDs, train ID -> category for the 7 categories). Depth is loaded by :class:`LoadCityscapesDepth`.
    Both keys are appended to ``seg_fields`` so geometric transforms move them together with the image.

    Args:
        with_seg (bool): Load ``gt_seg_map``. Defaults to True.
        with_depth (bool): Load ``gt_depth_map``. Defaults to True.
        depth_mode (str, optional): Overrides ``results['depth_mode']`` (``'metric'``/``'disparity'``).
        ignore_index (int): Ignore label, kept as is. Defaults to 255.
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self,
                 with_seg: bool = True,
                 with_depth: bool = True,
                 depth_mode: Optional[str] = None,
                 ignore_index: int = 255,
                 backend_args: Optional[dict] = None) -> None:
        super().__init__(backend_args=backend_args, imdecode_backend='cv2')
        self.with_seg = with_seg
        self.with_depth = with_depth
        self.ignore_index = ignore_index
        self.depth_loader = LoadCityscapesDepth(depth_mode=depth_mode, backend_args=backend_args)

    def _load_seg_map(self, results: dict) -> None:
        """Read, validate and map the label PNG into ``results['gt_seg_map']`` (uint8 ``H×W``)."""
        path = results['seg_map_path']
        raw = _read_png(path, 'Label', self.backend_args)
        if raw.ndim != 2 or raw.dtype not in (np.uint8, np.uint16):
            raise ValueError(f'Label file {path} is {raw.dtype} with shape {raw.shape}; expected a '
                             'single-channel train-ID PNG (*_gtFine_labelTrainIds.png, not the *_color.png).')
        _check_shape(raw, results, path, 'Label')
        label_map = results.get('label_map')
        if label_map is None:
            seg = raw.astype(np.uint8)
        else:
            present = np.flatnonzero(np.bincount(raw.ravel()))
            valid = set(int(k) for k in label_map) | {self.ignore_index}
            bad = [int(v) for v in present if int(v) not in valid]
            if bad:
                raise ValueError(
                    f'Label file {path} contains value(s) {bad} outside the class set; valid values are '
                    f'{sorted(valid)} ({self.ignore_index} = ignore). Cityscapes labels must be train IDs '
                    '(*_gtFine_labelTrainIds.png made by cityscapesscripts createTrainIdLabelImgs), '
                    'not label IDs.')
            lut = np.full(max(256, int(raw.max(initial=0)) + 1), self.ignore_index, dtype=np.uint8)
            for old, new in label_map.items():
                lut[int(old)] = new
            seg = lut[raw]
        results['gt_seg_map'] = seg
        results.setdefault('seg_fields', []).append('gt_seg_map')

    def transform(self, results: dict) -> dict:
        """Add ``gt_seg_map`` and/or ``gt_depth_map`` to ``results``."""
        if self.with_seg:
            self._load_seg_map(results)
        if self.with_depth:
            results = self.depth_loader.transform(results)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(with_seg={self.with_seg}, with_depth={self.with_depth}, '
                f'depth_mode={self.depth_loader.depth_mode!r}, ignore_index={self.ignore_index}, '
                f'backend_args={self.backend_args})')
