"""Data pre-processor for joint segmentation + depth batches."""
from numbers import Number
from typing import Any, Dict, List, Optional, Sequence

from mmseg.models import SegDataPreProcessor
from mmseg.utils import SampleList

from jdbench.registry import MODELS


@MODELS.register_module()
class JointDataPreProcessor(SegDataPreProcessor):
    """mmseg's ``SegDataPreProcessor`` that pads ``gt_depth_map`` with ``depth_pad_val`` (0 = invalid).

    ``mmseg.utils.stack_batch`` pads every ground-truth map, depth included, with ``seg_pad_val`` (255), so
    padded pixels would count as valid depth of 255 m. This pre-processor lets mmseg stack and pad the batch
    (images with ``pad_val``, labels with ``seg_pad_val``), then resets the padded border of each
    ``gt_depth_map`` (``1×H×W``; the ``padding_size`` that ``stack_batch`` records) to ``depth_pad_val``.

    Args:
        depth_pad_val (float): Value of padded depth pixels. Defaults to 0 (invalid).
        Others: see :class:`mmseg.models.SegDataPreProcessor`.
    """

    def __init__(self,
                 mean: Optional[Sequence[Number]] = None,
                 std: Optional[Sequence[Number]] = None,
                 size: Optional[tuple] = None,
                 size_divisor: Optional[int] = None,
                 pad_val: Number = 0,
                 seg_pad_val: Number = 255,
                 depth_pad_val: float = 0.,
                 bgr_to_rgb: bool = False,
                 rgb_to_bgr: bool = False,
                 batch_augments: Optional[List[dict]] = None,
                 test_cfg: Optional[dict] = None) -> None:
        super().__init__(mean=mean, std=std, size=size, size_divisor=size_divisor, pad_val=pad_val,
                         seg_pad_val=seg_pad_val, bgr_to_rgb=bgr_to_rgb, rgb_to_bgr=rgb_to_bgr,
                         batch_augments=batch_augments, test_cfg=test_cfg)
        self.depth_pad_val = depth_pad_val

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        """Normalize, pad and stack like mmseg; padded depth pixels get ``depth_pad_val``."""
        data = super().forward(data, training)
        if training:
            self._repad_depth(data['data_samples'])
        return data

    def _repad_depth(self, data_samples: SampleList) -> None:
        for sample in data_samples:
            if 'gt_depth_map' not in sample or 'padding_size' not in sample.metainfo:
                continue
            left, right, top, bottom = sample.metainfo['padding_size']
            depth = sample.gt_depth_map.data
            h, w = depth.shape[-2:]
            if left:
                depth[..., :, :left] = self.depth_pad_val
            if right:
                depth[..., :, w - right:] = self.depth_pad_val
            if top:
                depth[..., :top, :] = self.depth_pad_val
            if bottom:
                depth[..., h - bottom:, :] = self.depth_pad_val
