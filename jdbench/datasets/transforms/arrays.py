"""Loading of the NYUv2 converted PNG files and of the MTAN ``.npy`` releases into jdbench's data contract.

Every loader gives what ``LoadImageFromFile`` + ``LoadJointAnnotations`` give for Cityscapes
(docs/architecture.md, "Data contract"): ``img`` uint8 ``H×W×3`` BGR, ``gt_seg_map`` uint8 ``H×W``
(255 = ignore), ``gt_depth_map`` float32 ``H×W`` (0 = invalid) with ``depth_mode`` (``'metric'`` or
``'disparity'``, which :class:`~jdbench.datasets.transforms.RandomResizeDepth` reads to divide or multiply by
the image scale), and both maps in ``seg_fields``.
"""
import io
from typing import Optional

import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform

from jdbench.registry import TRANSFORMS
from .loading import _check_shape, _read_png


@TRANSFORMS.register_module()
class LoadNYUv2Annotations(BaseTransform):
    """Load the label and depth PNGs written by ``tools/dataset_converters/nyuv2.py``.

    Required keys: ``seg_map_path`` (16-bit PNG of the 894-class ids, 0 = unlabelled), ``nyu_label_lut``
    (uint8 lookup table 894-class id -> label index, 255 for 0; ``NYUv2Dataset`` gives it), ``depth_path`` (16-bit PNG, depth × ``depth_scale``), ``depth_scale`` (1000: millimetres).
    Added keys: ``gt_seg_map`` (uint8, the ``label_set`` index, 255 = unlabelled), ``gt_depth_map`` (float32,
    metres, 0 = invalid), ``depth_mode`` (``'metric'``); both maps are appended to ``seg_fields``.

    Args:
        with_seg (bool): Load ``gt_seg_map``. Defaults to True.
        with_depth (bool): Load ``gt_depth_map``. Defaults to True.
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self,
                 with_seg: bool = True,
                 with_depth: bool = True,
                 backend_args: Optional[dict] = None) -> None:
        self.with_seg = with_seg
        self.with_depth = with_depth
        self.backend_args = backend_args.copy() if backend_args else None

    def _read16(self, path: str, what: str, results: dict) -> np.ndarray:
        raw = _read_png(path, what, self.backend_args)
        if raw.ndim != 2 or raw.dtype != np.uint16:
            raise ValueError(f'{what} file {path} is {raw.dtype} with shape {raw.shape}; expected a '
                             'single-channel 16-bit PNG as written by tools/dataset_converters/nyuv2.py: '
                             'convert the release again.')
        _check_shape(raw, results, path, what)
        return raw

    def transform(self, results: dict) -> dict:
        """Add ``gt_seg_map`` and/or ``gt_depth_map`` to ``results``."""
        if self.with_seg:
            path = results['seg_map_path']
            raw = self._read16(path, 'Label', results)
            lut = results['nyu_label_lut']
            if raw.size and int(raw.max()) >= len(lut):
                raise ValueError(f'Label file {path} holds class id {int(raw.max())}; NYUv2 labels are the '
                                 f'894-class ids 0..{len(lut) - 1}: convert the release again.')
            results['gt_seg_map'] = lut[raw]
            results.setdefault('seg_fields', []).append('gt_seg_map')
        if self.with_depth:
            raw = self._read16(results['depth_path'], 'Depth', results)
            depth = raw.astype(np.float64) / float(results['depth_scale'])
            results['gt_depth_map'] = depth.astype(np.float32)
            results['depth_mode'] = 'metric'
            results.setdefault('seg_fields', []).append('gt_depth_map')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(with_seg={self.with_seg}, with_depth={self.with_depth}, '
                f'backend_args={self.backend_args})')


def load_npy(path: str, what: str, backend_args: Optional[dict] = None) -> np.ndarray:
    """``np.load`` of one ``.npy`` file (no pickles), with errors that name it."""
    try:
        data = fileio.get(path, backend_args=backend_args)
    except FileNotFoundError:
        raise FileNotFoundError(f'{what} file {path} is missing.') from None
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ValueError(f'Cannot read {what} file {path} as .npy ({e}): it is truncated or not a numpy '
                         'array; extract the release again.') from e


def _as_map(arr: np.ndarray, path: str, what: str, results: dict, expected: str) -> np.ndarray:
    """``H×W`` or ``H×W×1`` -> ``H×W``, of the image's size when it is known."""
    shape = arr.shape
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    ori = results.get('ori_shape')
    if arr.ndim != 2 or (ori is not None and tuple(arr.shape) != tuple(ori[:2])):
        size = f'{ori[0]}×{ori[1]} like its image {results.get("img_path")}' if ori is not None else 'H×W'
        raise ValueError(f'{what} file {path} has shape {shape}; expected {size} ({expected}). Check that '
                         f'the {what.lower()} and image folders come from the same release and split.')
    if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
        raise ValueError(f'{what} file {path} holds non-numeric, NaN or Inf values; extract the release '
                         'again.')
    return arr


@TRANSFORMS.register_module()
class LoadNpyImage(BaseTransform):
    """Load an MTAN-release image (``.npy``, ``H×W×3`` RGB floats in ``[0, 1]``) as uint8 ``H×W×3`` BGR.

    Values are rounded to ``x * 255`` (the release's values are multiples of 1/255, lorenmt/mtan#50), so the
    image enters the same data pre-processor (mean/std in 0..255 units, BGR -> RGB) as every other dataset.
    uint8 arrays are taken as RGB 0..255.

    Required keys: ``img_path``. Added keys: ``img``, ``img_shape``, ``ori_shape``.
    """

    def __init__(self, backend_args: Optional[dict] = None) -> None:
        self.backend_args = backend_args.copy() if backend_args else None

    def transform(self, results: dict) -> dict:
        """Add ``img`` (uint8 BGR) and its shapes to ``results``."""
        path = results['img_path']
        arr = load_npy(path, 'Image', self.backend_args)
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise ValueError(f'Image file {path} has shape {arr.shape}; expected H×W×3 (RGB, channels last, '
                             'as in the MTAN release).')
        if arr.dtype != np.uint8:
            if not np.issubdtype(arr.dtype, np.floating) or not np.all(np.isfinite(arr)):
                raise ValueError(f'Image file {path} is {arr.dtype} (or holds NaN/Inf); expected floats in '
                                 '[0, 1].')
            lo, hi = float(arr.min()), float(arr.max())
            if lo < -1e-3 or hi > 1 + 1e-3:
                raise ValueError(f'Image file {path} holds values in [{lo:g}, {hi:g}]; the MTAN release '
                                 'stores floats in [0, 1]. Rescale the images to [0, 1] (or store them as '
                                 'uint8).')
            arr = np.rint(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)
        img = np.ascontiguousarray(arr[..., ::-1])
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(backend_args={self.backend_args})'


@TRANSFORMS.register_module()
class LoadNpyAnnotations(BaseTransform):
    """Load MTAN-release labels and depth (``.npy``).

    Required keys: ``seg_map_path`` (``H×W`` class indices ``0..C−1``, −1 = ignore), ``num_classes`` (C),
    ``depth_path`` (``H×W×1`` or ``H×W``, 0 = invalid), ``depth_mode`` (``'metric'``: metres, NYUv2;
    ``'disparity'``: inverse depth, Cityscapes), all set by the dataset.
    Added keys: ``gt_seg_map`` (uint8, −1 -> 255), ``gt_depth_map`` (float32), ``depth_mode``; both maps are
    appended to ``seg_fields``.

    Args:
        with_seg (bool): Load ``gt_seg_map``. Defaults to True.
        with_depth (bool): Load ``gt_depth_map``. Defaults to True.
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self,
                 with_seg: bool = True,
                 with_depth: bool = True,
                 backend_args: Optional[dict] = None) -> None:
        self.with_seg = with_seg
        self.with_depth = with_depth
        self.backend_args = backend_args.copy() if backend_args else None

    def _load_seg(self, results: dict) -> None:
        path, num_classes = results['seg_map_path'], int(results['num_classes'])
        lab = _as_map(load_npy(path, 'Label', self.backend_args), path, 'Label', results, '−1 = ignore')
        if not np.all(lab == np.round(lab)):
            raise ValueError(f'Label file {path} holds non-integer values; expected class indices.')
        lo, hi = (int(lab.min()), int(lab.max())) if lab.size else (0, 0)
        if lo < -1 or hi >= num_classes:
            raise ValueError(
                f'Label file {path} holds class index {hi if hi >= num_classes else lo}, but the dataset is '
                f'configured for {num_classes} classes (0..{num_classes - 1}, −1 = ignore): the folder holds '
                'another label set (e.g. the 19-class label_19 where 7 classes are expected). Set label_set '
                f'to the number of classes in the files, or label_folder to the {num_classes}-class folder.')
        seg = lab.astype(np.int64)
        seg[seg < 0] = 255
        results['gt_seg_map'] = seg.astype(np.uint8)
        results.setdefault('seg_fields', []).append('gt_seg_map')

    def _load_depth(self, results: dict) -> None:
        path = results['depth_path']
        depth_mode = results.get('depth_mode', 'metric')
        expected = 'inverse depth, 0 = invalid' if depth_mode == 'disparity' else 'metres, 0 = invalid'
        depth = _as_map(load_npy(path, 'Depth', self.backend_args), path, 'Depth', results, expected)
        if depth.size and float(depth.min()) < 0:
            raise ValueError(f'Depth file {path} holds negative values ({float(depth.min()):g}); the MTAN '
                             'release marks invalid pixels with 0. Set invalid pixels to 0.')
        results['gt_depth_map'] = depth.astype(np.float32)
        results['depth_mode'] = depth_mode
        results.setdefault('seg_fields', []).append('gt_depth_map')

    def transform(self, results: dict) -> dict:
        """Add ``gt_seg_map`` and/or ``gt_depth_map`` to ``results``."""
        if self.with_seg:
            self._load_seg(results)
        if self.with_depth:
            self._load_depth(results)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(with_seg={self.with_seg}, with_depth={self.with_depth}, '
                f'backend_args={self.backend_args})')
