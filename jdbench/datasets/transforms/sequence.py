"""Transforms for frame sequences (self-supervised depth from video, Monodepth2's data pipeline).

Results keys (one item = the frames ``frame_ids`` of one camera, e.g. ``(0, -1, 1)``):

- ``img_paths``: one path per frame id; ``imgs``: list of ``H×W×3`` uint8 BGR frames in the same order.
- ``imgs_aug`` (after :class:`SequenceColorJitter`): the same frames after one colour jitter shared by all of
  them; ``imgs`` stays raw.
- ``K``: 4×4 float32 intrinsics in pixels of the current image size (resizes rescale it, flips keep it).
- ``gt_depth_map`` (float32, metres, 0 = invalid) and ``gt_seg_map`` (uint8, 255 = ignore): frame 0's ground
  truth at its **original** size; resizes do not touch them (metrics compare at that size), flips flip them.

A typical training pipeline: ``LoadSequenceFromFile`` -> ``ResizeSequence`` -> ``RandomFlipSequence`` ->
``SequenceColorJitter`` -> ``PackSequenceInputs``; evaluation drops the flip and the jitter.
"""
from typing import List, Optional, Sequence, Tuple

import cv2
import mmcv
import mmengine.fileio as fileio
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from jdbench.registry import TRANSFORMS
from ..kitti_utils import load_gt_depth, scale_intrinsics

IMAGE_KEYS = ('imgs', 'imgs_aug')
# BGR weights of the luma used by torchvision's rgb_to_grayscale (ITU-R 601-2).
_GRAY_BGR = np.array([0.114, 0.587, 0.299], dtype=np.float32)


@TRANSFORMS.register_module()
class LoadSequenceFromFile(BaseTransform):
    """Load the frames of an item, its intrinsics at the image size and frame 0's ground truth.

    Required keys: ``img_paths``, ``K``, ``K_shape`` (the ``(h, w)`` that ``K`` refers to), and what the data
    info carries for ground truth (``gt_source`` ...; see :class:`~jdbench.datasets.KITTIRawDataset`),
    optionally ``seg_map_path`` and ``poses``.

    Added keys: ``imgs`` (uint8 BGR), ``img_shape`` and ``ori_shape`` (``(h, w)``; ``ori_shape`` is the ground
    truth's size when there is one), ``K`` (rescaled from ``K_shape`` to the image), ``gt_depth_map`` and
    ``gt_seg_map`` when the info has them.

    Args:
        imdecode_backend (str): mmcv image decoding backend. Defaults to ``'cv2'``.
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self, imdecode_backend: str = 'cv2', backend_args: Optional[dict] = None) -> None:
        self.imdecode_backend = imdecode_backend
        self.backend_args = backend_args

    def _read(self, path: str, flag: str, what: str) -> np.ndarray:
        try:
            buf = fileio.get(path, backend_args=self.backend_args)
        except FileNotFoundError:
            raise FileNotFoundError(f'{what} {path} does not exist (it did when the dataset was built: was '
                                    'the data moved?).') from None
        img = mmcv.imfrombytes(buf, flag=flag, backend=self.imdecode_backend)
        if img is None:
            raise ValueError(f'{what} {path} cannot be decoded; extract the drive again.')
        return img

    def transform(self, results: dict) -> dict:
        """Read frames, rescale ``K`` to them, and load the ground truth."""
        imgs = [self._read(p, 'color', 'frame') for p in results['img_paths']]
        h, w = imgs[0].shape[:2]
        for p, img in zip(results['img_paths'], imgs):
            if img.shape[:2] != (h, w):
                raise ValueError(f'frame {p} is {img.shape[1]}x{img.shape[0]} but frame '
                                 f'{results["img_paths"][0]} is {w}x{h}; the frames of a drive must share '
                                 'one size.')
        kh, kw = results.get('K_shape', (h, w))
        results['K'] = scale_intrinsics(results['K'], w / kw, h / kh)
        results['K_shape'] = (h, w)
        results['imgs'] = imgs
        results['img_shape'] = (h, w)
        results['ori_shape'] = (h, w)
        depth = load_gt_depth(results, self.backend_args)
        if depth is not None:
            results['gt_depth_map'] = depth
            results['ori_shape'] = depth.shape[:2]
        if results.get('seg_map_path'):
            seg = self._read(results['seg_map_path'], 'unchanged', 'semantic label')
            if seg.ndim != 2:
                raise ValueError(f'semantic label {results["seg_map_path"]} has shape {seg.shape}; expected '
                                 'a single-channel PNG of train IDs.')
            results['gt_seg_map'] = seg.astype(np.uint8)
            results.setdefault('seg_fields', [])
            if 'gt_seg_map' not in results['seg_fields']:
                results['seg_fields'].append('gt_seg_map')
            if depth is None:
                results['ori_shape'] = seg.shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(imdecode_backend={self.imdecode_backend!r})'


@TRANSFORMS.register_module()
class ResizeSequence(BaseTransform):
    """Resize every frame (``imgs`` and ``imgs_aug``) to ``scale`` and rescale ``K``.

    ``K``'s rows 0 and 1 are multiplied by the width and height ratios (Monodepth2's rule). Ground truth
    (``gt_depth_map``, ``gt_seg_map``) keeps its original size. The default, Pillow's Lanczos filter, is
    Monodepth2's ``ANTIALIAS`` resize.

    Added keys: ``img_shape``, ``scale_factor`` ``(w ratio, h ratio)``, ``K``.

    Args:
        scale (tuple[int, int]): ``(w, h)``, e.g. ``(640, 192)``; the aspect ratio is not kept.
        interpolation (str): mmcv interpolation name. Defaults to ``'lanczos'``.
        backend (str): ``'pillow'`` or ``'cv2'``. Defaults to ``'pillow'``.
    """

    def __init__(self, scale: Tuple[int, int], interpolation: str = 'lanczos',
                 backend: str = 'pillow') -> None:
        if len(scale) != 2 or min(scale) < 1:
            raise ValueError(f'scale must be (w, h) with positive sides, got {scale!r}')
        self.scale = (int(scale[0]), int(scale[1]))
        self.interpolation = interpolation
        self.backend = backend

    def transform(self, results: dict) -> dict:
        """Resize the frames; rescale ``K``."""
        h, w = results['imgs'][0].shape[:2]
        nw, nh = self.scale
        for key in IMAGE_KEYS:
            if key in results:
                results[key] = [mmcv.imresize(img, (nw, nh), interpolation=self.interpolation,
                                              backend=self.backend) for img in results[key]]
        sx, sy = nw / w, nh / h
        results['K'] = scale_intrinsics(results['K'], sx, sy)
        results['K_shape'] = (nh, nw)
        results['img_shape'] = (nh, nw)
        prev = results.get('scale_factor', (1.0, 1.0))
        results['scale_factor'] = (prev[0] * sx, prev[1] * sy)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale={self.scale}, interpolation={self.interpolation!r}, '
                f'backend={self.backend!r})')


@TRANSFORMS.register_module()
class RandomFlipSequence(BaseTransform):
    """Flip all frames of an item horizontally together, with probability ``prob``.

    Flips ``imgs``, ``imgs_aug`` and the ground-truth maps (``gt_depth_map`` and ``seg_fields``). ``K`` is
    kept, as Monodepth2 does: that is exact only for a principal point at the image centre
    (``cx = (W - 1) / 2``; Monodepth2's normalised K puts it at ``W / 2``, and KITTI's is within a few pixels
    of the centre). Photometric reconstruction stays consistent because all frames flip together.

    Added keys: ``flip`` (bool), ``flip_direction`` (``'horizontal'`` or None).

    Args:
        prob (float): Flip probability. Defaults to 0.5.
    """

    def __init__(self, prob: float = 0.5) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.prob = prob

    @cache_randomness
    def _do_flip(self) -> bool:
        return bool(np.random.rand() < self.prob)

    def transform(self, results: dict) -> dict:
        """Flip (or not) every frame and ground-truth map."""
        flip = self._do_flip()
        results['flip'] = flip
        results['flip_direction'] = 'horizontal' if flip else None
        if not flip:
            return results
        for key in IMAGE_KEYS:
            if key in results:
                results[key] = [np.ascontiguousarray(img[:, ::-1]) for img in results[key]]
        for key in {'gt_depth_map', *results.get('seg_fields', [])}:
            if results.get(key) is not None:
                results[key] = np.ascontiguousarray(results[key][:, ::-1])
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'


def adjust_brightness(img: np.ndarray, factor: float) -> np.ndarray:
    """``img · factor`` (blend with black), clipped to [0, 255]; float32 BGR in and out."""
    return np.clip(img * factor, 0, 255)


def adjust_contrast(img: np.ndarray, factor: float) -> np.ndarray:
    """Blend with the mean grey level of the image (torchvision's rule), clipped to [0, 255]."""
    mean = float((img @ _GRAY_BGR).mean())
    return np.clip(img * factor + mean * (1 - factor), 0, 255)


def adjust_saturation(img: np.ndarray, factor: float) -> np.ndarray:
    """Blend with the image's grey version, clipped to [0, 255]."""
    gray = (img @ _GRAY_BGR)[..., None]
    return np.clip(img * factor + gray * (1 - factor), 0, 255)


def adjust_hue(img: np.ndarray, shift: float) -> np.ndarray:
    """Rotate the hue by ``shift`` turns (``shift`` in [-0.5, 0.5]), via HSV."""
    hsv = cv2.cvtColor(np.ascontiguousarray(img / 255.0, dtype=np.float32), cv2.COLOR_BGR2HSV)
    hsv[..., 0] = np.mod(hsv[..., 0] + shift * 360.0, 360.0)
    return np.clip(cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR) * 255.0, 0, 255)


COLOR_OPS = (('brightness', adjust_brightness), ('contrast', adjust_contrast),
             ('saturation', adjust_saturation), ('hue', adjust_hue))


@TRANSFORMS.register_module()
class SequenceColorJitter(BaseTransform):
    """Monodepth2's colour augmentation: one random jitter applied to every frame of an item.

    With probability ``prob`` the item draws brightness, contrast and saturation factors and a hue shift
    (uniformly in their ranges) and a random order of the four operations (torchvision's ``ColorJitter``),
    and applies exactly that to every frame; otherwise the frames are copied unchanged. The result is
    ``imgs_aug`` (always written, so every item of a batch has the same layout); ``imgs`` stays raw
    (Monodepth2 feeds the jittered frames to the networks and computes the photometric loss on the raw ones).
    Randomness comes from numpy's global generator, as in mmcv's transforms, so mmengine's seeding makes it
    reproducible. The operations run in float and round once at the end (torchvision rounds to uint8 after
    each); operations with a neutral value (factor 1, hue 0) are skipped.

    Added keys: ``imgs_aug``, ``color_jitter``
    (``dict(applied, order, brightness, contrast, saturation, hue)``).

    Args:
        prob (float): Probability to jitter an item. Defaults to 0.5.
        brightness, contrast, saturation (tuple[float, float]): Factor ranges. Default ``(0.8, 1.2)``.
        hue (tuple[float, float]): Hue shift range in turns, within [-0.5, 0.5]. Default ``(-0.1, 0.1)``.
    """

    def __init__(self,
                 prob: float = 0.5,
                 brightness: Tuple[float, float] = (0.8, 1.2),
                 contrast: Tuple[float, float] = (0.8, 1.2),
                 saturation: Tuple[float, float] = (0.8, 1.2),
                 hue: Tuple[float, float] = (-0.1, 0.1)) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        for name, rng in (('brightness', brightness), ('contrast', contrast), ('saturation', saturation)):
            if len(rng) != 2 or not 0 <= rng[0] <= rng[1]:
                raise ValueError(f'{name} must be (min, max) with 0 <= min <= max, got {rng!r}')
        if len(hue) != 2 or not -0.5 <= hue[0] <= hue[1] <= 0.5:
            raise ValueError(f'hue must be (min, max) within [-0.5, 0.5], got {hue!r}')
        self.prob = prob
        self.ranges = dict(brightness=tuple(brightness), contrast=tuple(contrast),
                           saturation=tuple(saturation), hue=tuple(hue))

    @cache_randomness
    def _random_params(self) -> dict:
        if np.random.rand() >= self.prob:
            return dict(applied=False)
        order = [int(i) for i in np.random.permutation(len(COLOR_OPS))]
        params = {name: float(np.random.uniform(*self.ranges[name])) for name, _ in COLOR_OPS}
        return dict(applied=True, order=order, **params)

    @staticmethod
    def apply(img: np.ndarray, params: dict) -> np.ndarray:
        """Apply drawn ``params`` to one uint8 BGR image."""
        if not params['applied']:
            return img.copy()
        out = img.astype(np.float32)
        for i in params['order']:
            name, op = COLOR_OPS[i]
            if params[name] != (0.0 if name == 'hue' else 1.0):  # neutral operations are skipped (exact)
                out = op(out, params[name])
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)

    def transform(self, results: dict) -> dict:
        """Write ``imgs_aug``: the same jitter on every frame of ``imgs``."""
        params = self._random_params()
        results['imgs_aug'] = [self.apply(img, params) for img in results['imgs']]
        results['color_jitter'] = params
        return results

    def __repr__(self) -> str:
        r = self.ranges
        return (f'{self.__class__.__name__}(prob={self.prob}, brightness={r["brightness"]}, '
                f'contrast={r["contrast"]}, saturation={r["saturation"]}, hue={r["hue"]})')


@TRANSFORMS.register_module()
class PackSequenceInputs(BaseTransform):
    """Pack a sequence item: ``inputs`` uint8 ``(3·F·A, H, W)`` and a ``SegDataSample``.

    ``inputs`` holds the F raw frames in ``frame_ids`` order (BGR, 3 channels each), then, when ``imgs_aug``
    exists (A = 2), the F jittered frames in the same order; A = 1 otherwise. Metainfo: ``frame_ids``, ``K``
    (4×4 list), ``img_shape``, ``ori_shape``, ``has_aug`` and the present ``meta_keys``. Ground truth:
    ``gt_depth_map`` (``PixelData`` ``1×H0×W0`` float32) and ``gt_sem_seg`` (``1×H0×W0`` int64) when present.

    Args:
        meta_keys (Sequence[str]): Results keys copied into the metainfo when present.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('img_path', 'img_paths', 'seg_map_path', 'ori_shape',
                                             'img_shape', 'scale_factor', 'flip', 'flip_direction',
                                             'folder', 'frame_index', 'side', 'reduce_zero_label')) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Stack the frames channel-wise and fill the data sample."""
        frames: List[np.ndarray] = list(results['imgs'])
        has_aug = 'imgs_aug' in results
        if has_aug:
            if len(results['imgs_aug']) != len(frames):
                raise ValueError(f'imgs_aug has {len(results["imgs_aug"])} frames but imgs has {len(frames)}')
            frames += list(results['imgs_aug'])
        shape = frames[0].shape
        if any(f.shape != shape or f.ndim != 3 or f.shape[2] != 3 for f in frames):
            raise ValueError(f'all frames must be H×W×3 of one size; got {[f.shape for f in frames]}')
        stacked = np.concatenate([f.transpose(2, 0, 1) for f in frames], axis=0)
        inputs = torch.from_numpy(np.ascontiguousarray(stacked))
        sample = SegDataSample()
        if results.get('gt_depth_map') is not None:
            depth = np.ascontiguousarray(results['gt_depth_map'], dtype=np.float32)
            sample.set_data(dict(gt_depth_map=PixelData(data=torch.from_numpy(depth[None].copy()))))
        if results.get('gt_seg_map') is not None:
            seg = results['gt_seg_map'].astype(np.int64)
            sample.gt_sem_seg = PixelData(data=torch.from_numpy(seg[None].copy()))
        meta = {k: results[k] for k in self.meta_keys if k in results}
        frame_ids = results.get('frame_ids', tuple(range(len(results['imgs']))))
        meta.update(frame_ids=tuple(frame_ids), K=np.asarray(results['K'], dtype=np.float32).tolist(),
                    img_shape=tuple(shape[:2]), ori_shape=tuple(results.get('ori_shape', shape[:2])),
                    has_aug=has_aug)
        if results.get('poses') is not None:
            meta['poses'] = np.asarray(results['poses'], dtype=np.float32).tolist()
        sample.set_metainfo(meta)
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
