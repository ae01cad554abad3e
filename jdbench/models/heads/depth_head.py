"""Dense depth regression head."""
from typing import List, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from torch import Tensor

from jdbench.registry import MODELS

PARAMETRISATIONS = ('sigmoid', 'exp', 'softplus', 'inverse')


@MODELS.register_module()
class DepthHead(BaseDecodeHead):
    """FCN-style depth head: ``num_convs`` ConvModules then a 1x1 conv (``conv_seg``) to one channel.

    It reuses mmseg's decode-head plumbing (``in_index``, ``input_transform``, dropout, ``align_corners``) so
    it takes the same inputs as any mmseg decode head. The output is a positive depth map (B, 1, h, w) at the
    input feature's resolution, in the units of the ground truth (metres, or inverse depth).

    Args:
        num_convs (int): 3x3 conv blocks before the output layer. Defaults to 2.
        parametrisation (str): how the raw output x becomes depth:
            ``'sigmoid'``: max_depth·σ(x) (mmseg VPD's choice); ``'exp'``: exp(x) (log-depth regression);
            ``'softplus'``: softplus(x) + min_depth; ``'inverse'``: 1/(σ(x)·(1/min − 1/max) + 1/max), i.e. a
            bounded disparity. Defaults to 'sigmoid'.
        min_depth, max_depth (float): the output range. Defaults to 1e-3 and 80.
        loss_decode (dict | list[dict]): depth losses (``DepthL1Loss``, ``SILogLoss``, ``BerHuLoss``).
    """

    def __init__(self,
                 num_convs: int = 2,
                 kernel_size: int = 3,
                 parametrisation: str = 'sigmoid',
                 min_depth: float = 1e-3,
                 max_depth: float = 80.0,
                 loss_decode: Union[dict, Sequence[dict]] = dict(type='DepthL1Loss'),
                 **kwargs) -> None:
        if parametrisation not in PARAMETRISATIONS:
            raise ValueError(f'unknown depth parametrisation {parametrisation!r}; choose from {PARAMETRISATIONS}')
        super().__init__(num_classes=1, out_channels=1, threshold=0.5, loss_decode=loss_decode, **kwargs)
        self.parametrisation = parametrisation
        self.min_depth, self.max_depth = float(min_depth), float(max_depth)
        in_ch = self.in_channels if isinstance(self.in_channels, int) else sum(self.in_channels)
        self.convs = nn.Sequential(*[
            ConvModule(in_ch if i == 0 else self.channels, self.channels, kernel_size, padding=kernel_size // 2,
                       conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
            for i in range(num_convs)
        ]) if num_convs > 0 else nn.Identity()

    def to_depth(self, x: Tensor) -> Tensor:
        """Map the raw output (B, 1, h, w) to depth with the configured parametrisation."""
        if self.parametrisation == 'sigmoid':
            return self.max_depth * torch.sigmoid(x)
        if self.parametrisation == 'exp':
            return torch.exp(x.clamp(max=float(torch.log(torch.tensor(self.max_depth)))))
        if self.parametrisation == 'softplus':
            return F.softplus(x) + self.min_depth
        lo, hi = 1. / self.max_depth, 1. / self.min_depth
        return 1. / (torch.sigmoid(x) * (hi - lo) + lo)

    def forward(self, inputs: List[Tensor]) -> Tensor:
        """Features (list of B×C×h×w) -> depth (B, 1, h, w)."""
        x = self.convs(self._transform_inputs(inputs))
        return self.to_depth(self.cls_seg(x))

    def loss_by_feat(self, depth: Tensor, batch_data_samples: list) -> dict:
        """Depth losses against ``gt_depth_map`` (B, 1, H, W; 0 = invalid) after resizing the prediction."""
        gt = torch.stack([s.gt_depth_map.data for s in batch_data_samples]).to(depth)
        depth = resize(depth, size=gt.shape[2:], mode='bilinear', align_corners=self.align_corners)
        losses = {}
        for loss in (self.loss_decode if isinstance(self.loss_decode, nn.ModuleList) else [self.loss_decode]):
            losses[loss.loss_name] = losses.get(loss.loss_name, 0) + loss(depth, gt)
        return losses

    def predict_by_feat(self, depth: Tensor, batch_img_metas: List[dict]) -> Tensor:
        """Resize the depth map to the (padded) input size, as mmseg does for logits."""
        meta = batch_img_metas[0]
        size = meta['pad_shape'][:2] if 'pad_shape' in meta else meta['img_shape']
        return resize(depth, size=size, mode='bilinear', align_corners=self.align_corners)
