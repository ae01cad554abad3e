"""The connector's segmentation head: mmseg's ``FCNHead`` without the logged top-1 accuracy."""
from typing import Dict

import torch.nn as nn
from mmseg.models.decode_heads import FCNHead
from mmseg.models.utils import resize
from mmseg.utils import SampleList
from torch import Tensor

from jdbench.registry import MODELS


@MODELS.register_module()
class ConnectorSegHead(FCNHead):
    """``FCNHead`` whose ``loss_by_feat`` gives the same loss terms as mmseg's, but not ``acc_seg``.

    mmseg logs a top-1 accuracy with every decode-head loss: a ``topk`` over the full-resolution logits
    (B×C×H×W) per step that trains nothing. JointDistill's connector computes a second segmentation loss per
    step beside the student's, so it skips that (issue 10: per-iteration budget). Same parameters and
    ``state_dict`` as ``FCNHead``; no sampler (``sampler`` must be None).
    """

    def loss_by_feat(self, seg_logits: Tensor, batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Logits (B, C, h, w) -> ``{loss_name: loss}``, as mmseg's ``BaseDecodeHead.loss_by_feat``."""
        if self.sampler is not None:
            raise ValueError('ConnectorSegHead has no pixel sampler; use FCNHead for a sampled loss')
        label = self._stack_batch_gt(batch_data_samples)
        logits = seg_logits if seg_logits.shape[2:] == label.shape[2:] else resize(
            seg_logits, size=label.shape[2:], mode='bilinear', align_corners=self.align_corners)
        label = label.squeeze(1)
        losses: Dict[str, Tensor] = {}
        for loss in (self.loss_decode if isinstance(self.loss_decode, nn.ModuleList) else [self.loss_decode]):
            value = loss(logits, label, weight=None, ignore_index=self.ignore_index)
            losses[loss.loss_name] = losses[loss.loss_name] + value if loss.loss_name in losses else value
        return losses
