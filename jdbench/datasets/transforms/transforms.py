"""Depth-aware geometric augmentation.

mmseg's ``RandomCrop``, ``RandomFlip`` and ``Resize`` (nearest interpolation for every key in
``seg_fields``) move ``gt_seg_map`` and ``gt_depth_map`` together with the image, and
``PhotoMetricDistortion`` only touches the image, so they are used as they are. Two pitfalls remain,
handled or documented here:

- mmcv's ``RandomResize`` builds its inner resize by the name ``'Resize'``; outside the ``mmseg``/``jdbench``
  scope that is mmcv's ``Resize``, which ignores ``seg_fields`` and leaves depth unresized (misaligned).
  :class:`RandomResizeDepth` always builds ``mmseg.Resize``.
- Scaling the image changes what depth it shows (below); a plain random resize keeps the old depth values.

Transforms that fill pixels (mmseg ``RandomRotate``, ``RandomCutOut``, mmcv ``Pad``) fill every seg field with
the label pad value (255), which would be read as a valid depth; do not use them on ``gt_depth_map``.
"""
import math
from typing import Optional, Sequence, Tuple, Union

import mmcv
from mmcv.transforms import RandomResize
from mmseg.datasets.transforms import Resize as SegResize

from jdbench.registry import TRANSFORMS

DEPTH_SCALINGS = ('inverse', 'none')


@TRANSFORMS.register_module()
class RandomResizeDepth(RandomResize):
    """mmcv ``RandomResize`` that also rescales depth values to stay geometrically consistent.

    The camera (its focal length in pixels) is taken as fixed at a reference resolution, ``reference_scale``
    (default: ``scale`` itself, i.e. the training/test resolution). An image resized to ``s`` times the
    reference size shows the scene as an unchanged camera would see it from ``s`` times closer: a metric depth
    ``z`` becomes ``z / s`` and a disparity (``depth_mode='disparity'``) ``d`` becomes ``d * s``. Depth maps
    are resized with nearest interpolation (never blended across object edges) and invalid pixels stay 0.

    ``s`` is the geometric mean of the width and height ratios between the resized image and the image resized
    to the reference scale with the same ``keep_ratio`` (for ``ratio_range`` sampling, ``s`` is the sampled
    ratio up to integer rounding of the size). When ``scale`` is a list of two scales and no
    ``reference_scale`` is given, the reference is the input image's own size.

    Added keys: ``depth_img_scale`` (``s``) and ``depth_scale_factor`` (the factor applied to the depth
    values: ``1/s``, ``s``, or 1 with ``depth_scaling='none'``), besides ``scale``, ``scale_factor``,
    ``keep_ratio``.

    Args:
        scale (tuple | list[tuple]): ``(w, h)`` base scale, or two scales to sample between (mmcv semantics).
        ratio_range (tuple[float], optional): ``(min, max)`` ratio, sampled uniformly, times ``scale``.
        depth_scaling (str): ``'inverse'`` rescales depth values as above; ``'none'`` keeps them.
        reference_scale (tuple, optional): ``(w, h)`` resolution at which depth values are unchanged.
        depth_keys (Sequence[str]): Depth keys whose values are rescaled. Defaults to ``('gt_depth_map',)``.
        resize_type (str): Inner resize; must handle ``seg_fields`` (``mmseg.Resize`` or a subclass).
        **resize_kwargs: Passed to the inner resize (``keep_ratio``, ``interpolation`` of the image, ...).
    """

    def __init__(self,
                 scale: Union[Tuple[int, int], Sequence[Tuple[int, int]]],
                 ratio_range: Optional[Tuple[float, float]] = None,
                 depth_scaling: str = 'inverse',
                 reference_scale: Optional[Tuple[int, int]] = None,
                 depth_keys: Sequence[str] = ('gt_depth_map', ),
                 resize_type: str = 'mmseg.Resize',
                 **resize_kwargs) -> None:
        if depth_scaling not in DEPTH_SCALINGS:
            raise ValueError(f'depth_scaling must be one of {DEPTH_SCALINGS}, got {depth_scaling!r}')
        super().__init__(scale=scale, ratio_range=ratio_range, resize_type=resize_type, **resize_kwargs)
        if not isinstance(self.resize, SegResize):
            raise TypeError(f'RandomResizeDepth needs a resize that resizes every key in seg_fields '
                            f'(mmseg.Resize or a subclass); {resize_type!r} built '
                            f'{type(self.resize).__name__}.')
        self.depth_scaling = depth_scaling
        if reference_scale is None and isinstance(scale, tuple) and all(isinstance(v, int) for v in scale):
            reference_scale = scale
        self.reference_scale = tuple(reference_scale) if reference_scale is not None else None
        self.depth_keys = tuple(depth_keys)

    def _reference_size(self, w: int, h: int) -> Tuple[int, int]:
        """``(w, h)`` of a ``w×h`` image resized to the reference scale."""
        if self.reference_scale is None:
            return w, h
        if self.resize.keep_ratio:
            return mmcv.rescale_size((w, h), self.reference_scale)
        return self.reference_scale

    def transform(self, results: dict) -> dict:
        """Resize image and seg fields (nearest), then rescale the depth values by the image scale ``s``."""
        h, w = results['img'].shape[:2]
        results = super().transform(results)
        new_h, new_w = results['img'].shape[:2]
        ref_w, ref_h = self._reference_size(w, h)
        s = math.sqrt(new_w / ref_w * new_h / ref_h)
        factor = 1.0
        if self.depth_scaling == 'inverse':
            factor = s if results.get('depth_mode', 'metric') == 'disparity' else 1.0 / s
        if factor != 1.0:
            for key in self.depth_keys:
                if results.get(key) is not None:
                    results[key] = results[key] * results[key].dtype.type(factor)
        results['depth_img_scale'] = s
        results['depth_scale_factor'] = factor
        return results

    def __repr__(self) -> str:
        return (f'{super().__repr__()[:-1]}, depth_scaling={self.depth_scaling!r}, '
                f'reference_scale={self.reference_scale}, depth_keys={self.depth_keys})')
