"""JointDistill's connector: fuses the teachers' features into one "fused teacher" prediction per task."""
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.structures import PixelData
from mmengine.model import BaseModule
from mmseg.models.utils import resize
from mmseg.structures import SegDataSample
from mmseg.utils import ConfigType, OptMultiConfig, SampleList, add_prefix
from torch import Tensor

from jdbench.registry import MODELS

LOSS_SIZES = ('input', 'fused')
GT_FIELDS = ('gt_sem_seg', 'gt_depth_map')


@MODELS.register_module()
class JointDistillConnector(BaseModule):
    """``p_i^F = h_i^F(ReLU(BN(Conv3x3(... concat_j resize(f_j^T)))))``: one output per task.

    The teachers' features (one per teacher, detached) are resized to one spatial size, concatenated, passed
    through ``num_convs`` Conv3x3-BN-ReLU blocks and one head per task. Heads are decode heads without conv
    blocks (``ConnectorSegHead``, an ``FCNHead`` that skips mmseg's logged accuracy, / ``DepthHead`` with
    ``num_convs=0``), so their output and their ground-truth losses are those of the student's heads
    (``loss_by_feat``): C logits for segmentation, one positive depth channel with the student's depth
    parametrisation. The distiller fills ``in_channels`` and ``heads`` from the
    teachers and the student; a config sets only the fields below.

    Args:
        in_channels (dict[str, int]): teacher name -> channels of its feature, in concatenation order.
        heads (dict[str, dict]): task -> head config (input ``channels`` wide).
        channels (int): width of the fused features. Defaults to 64.
        num_convs (int): Conv3x3-BN-ReLU blocks. Defaults to 2 (docs/methods.md).
        stride (int, optional): output stride of the fused features w.r.t. the input image; ``None`` (default)
            takes the size of the student's finest head input (read by the distiller).
        loss_size (str | dict[str, str]): where the ground-truth losses are computed, for every task or per
            task (``dict(seg='fused')``; tasks not named: ``'input'``): ``'input'`` (default) upsamples the
            fused predictions to the ground truth, as the student's heads do; ``'fused'`` downsamples the ground
            truth (nearest) to the fused predictions instead, a cheaper configured variant (docs/methods.md).
        norm_cfg, act_cfg: of the conv blocks.
        align_corners (bool): for resizing the features.
    """

    def __init__(self,
                 in_channels: Dict[str, int],
                 heads: Dict[str, ConfigType],
                 channels: int = 64,
                 num_convs: int = 2,
                 stride: Optional[int] = None,
                 norm_cfg: ConfigType = dict(type='BN', requires_grad=True),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 align_corners: bool = False,
                 loss_size: Union[str, Dict[str, str]] = 'input',
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_convs < 1:
            raise ValueError('the connector needs num_convs >= 1')
        self.loss_size = loss_size
        self.in_channels = dict(in_channels)
        self.channels = channels
        self.stride = stride
        self.align_corners = align_corners
        total = sum(self.in_channels.values())
        self.fuse = nn.Sequential(*[
            ConvModule(total if i == 0 else channels, channels, 3, padding=1, norm_cfg=norm_cfg,
                       act_cfg=act_cfg) for i in range(num_convs)
        ])
        self.heads = nn.ModuleDict({task: MODELS.build(cfg) for task, cfg in heads.items()})
        self.loss_sizes = self._loss_sizes(loss_size)

    def _loss_sizes(self, loss_size: Union[str, Dict[str, str]]) -> Dict[str, str]:
        """``{task: 'input' | 'fused'}`` from one value for all tasks or a per-task dict."""
        if isinstance(loss_size, str):
            sizes = {task: loss_size for task in self.heads}
        else:
            unknown = sorted(set(loss_size) - set(self.heads))
            if unknown:
                raise KeyError(f'loss_size names tasks {unknown}; the connector predicts {list(self.heads)}')
            sizes = {task: loss_size.get(task, 'input') for task in self.heads}
        bad = {task: v for task, v in sizes.items() if v not in LOSS_SIZES}
        if bad:
            raise ValueError(f'loss_size must be one of {LOSS_SIZES} (for every task or per task), got {bad}')
        return sizes

    @property
    def task_names(self) -> List[str]:
        return list(self.heads)

    def forward(self, feats: Dict[str, Tensor], size: Tuple[int, int]) -> Dict[str, Tensor]:
        """Teacher features (name -> B×C_j×h_j×w_j) and the target size (h, w) -> ``{task: raw output}``."""
        missing = [name for name in self.in_channels if name not in feats]
        if missing:
            raise KeyError(f'connector: no feature from teachers {missing}')
        x = torch.cat([
            resize(feats[name], size=size, mode='bilinear', align_corners=self.align_corners, warning=False)
            if feats[name].shape[2:] != torch.Size(size) else feats[name] for name in self.in_channels
        ], dim=1)
        x = self.fuse(x)
        return {task: head([x]) for task, head in self.heads.items()}

    def loss(self, outputs: Dict[str, Tensor], data_samples: SampleList) -> Dict[str, Tensor]:
        """Ground-truth losses of the fused predictions, keyed ``'conn.<task>.<term>'``."""
        small = None
        losses = {}
        for task, head in self.heads.items():
            samples = data_samples
            if self.loss_sizes[task] == 'fused':
                if small is None:
                    small = downsample_gt(data_samples, outputs[task].shape[2:])
                samples = small
            losses.update(add_prefix(head.loss_by_feat(outputs[task], samples), f'conn.{task}'))
        return losses


def downsample_gt(data_samples: SampleList, size: Tuple[int, int]) -> SampleList:
    """New samples (same metainfo) whose ground-truth maps are resized to ``size`` (h, w) by nearest neighbour:
    labels stay labels, invalid depth (0) stays invalid."""
    out = []
    for sample in data_samples:
        small = SegDataSample(metainfo=sample.metainfo)
        for key in GT_FIELDS:
            if key in sample:
                data = sample.get(key).data  # 1 x H x W
                resized = F.interpolate(data[None].float(), size=tuple(size), mode='nearest')[0]
                small.set_data({key: PixelData(data=resized.to(data.dtype))})
        out.append(small)
    return out
