"""Multi-level segmentation output: an intermediate head on an earlier stage plus the final head."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch.nn as nn
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, SampleList, add_prefix
from torch import Tensor

from jdbench.registry import MODELS
from ..students import JointStudent

#: the level names, from the earliest to the last
LEVELS = ('aux', 'final')
AUX_INPUTS = ('backbone', 'neck')


@MODELS.register_module()
class MultiLevelSegmentor(JointStudent):
    """A :class:`JointStudent` with one segmentation head plus an intermediate (auxiliary) head.

    The network of AdaptSegNet (Tsai et al., CVPR 2018) and of Domain Adaptive KD (Kothandaraman et al.,
    WACV-W 2021): the final head makes the prediction, the intermediate head reads an earlier stage of the
    backbone. Both are trained (``L = CE(final) + aux_weight · CE(aux)``), adapted (one discriminator per
    level) and distilled (one KD term per level); only the final head is used at inference, so ``predict``,
    ``mode='tensor'`` and a :class:`~jdbench.models.Teacher` built on this model behave exactly as the plain
    single-head student (``JointMetric`` scores ``pred_sem_seg``).

    Args:
        backbone (dict): any mmseg backbone (or an ``mmdet.``-scoped one).
        decode_head (dict): the final head (any mmseg decode head), reading the neck's outputs (the backbone's
            without a neck).
        aux_head (dict, optional): the intermediate head (any mmseg decode head) with ``in_index`` on an earlier
            stage. ``None``: a single-level model (levels ``('final',)``).
        aux_input (str): what the intermediate head reads: ``'backbone'`` (default: the backbone's stage
            outputs, also when the final head reads a neck) or ``'neck'``.
        aux_weight (float): λ_seg, the weight of the intermediate head's cross-entropy. Defaults to 0.1
            (AdaptSegNet and DAKD).
        neck (dict, optional): e.g. ``dict(type='mmdet.FPN', ...)``.
        task (str): the head's task name (loss keys ``'<task>.loss_ce'`` and ``'<task>.aux.loss_ce'``).
            Defaults to ``'seg'``.
        weighting (dict, optional): as :class:`JointStudent` (one ``'task'`` objective holding both levels).

    ``forward_levels(inputs)`` gives ``{'aux': logits, 'final': logits}`` (B, C, h, w) at each head's own
    resolution; ``level_losses(levels, data_samples)`` their ground-truth terms.
    """

    def __init__(self,
                 backbone: ConfigType,
                 decode_head: ConfigType,
                 aux_head: OptConfigType = None,
                 aux_input: str = 'backbone',
                 aux_weight: float = 0.1,
                 neck: OptConfigType = None,
                 task: str = 'seg',
                 weighting: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        if aux_input not in AUX_INPUTS:
            raise ValueError(f'aux_input must be one of {AUX_INPUTS}, got {aux_input!r}')
        super().__init__(backbone=backbone, heads={task: decode_head}, neck=neck, weighting=weighting,
                         data_preprocessor=data_preprocessor, train_cfg=train_cfg, test_cfg=test_cfg,
                         init_cfg=init_cfg)
        if self.task_kind(task) != 'seg':
            raise TypeError(f'MultiLevelSegmentor: decode_head must be a segmentation head, got '
                            f'{type(self.heads[task]).__name__}')
        self.task = task
        self.aux_input = aux_input
        self.aux_weight = float(aux_weight)
        self.aux_head: Optional[nn.Module] = MODELS.build(aux_head) if aux_head is not None else None
        if self.aux_head is not None:
            if not isinstance(self.aux_head, BaseDecodeHead):
                raise TypeError(f'aux_head must be an mmseg decode head, got {type(self.aux_head).__name__}')
            if self.aux_head.num_classes != self.heads[task].num_classes:
                raise ValueError(f'aux_head predicts {self.aux_head.num_classes} classes, decode_head '
                                 f'{self.heads[task].num_classes}; give both heads the same num_classes')

    @property
    def levels(self) -> Tuple[str, ...]:
        """The output levels, earliest first: ``('aux', 'final')`` (``('final',)`` without an aux head)."""
        return LEVELS if self.aux_head is not None else LEVELS[-1:]

    # ----------------------------------------------------------------- forward parts
    def _stage_features(self, inputs: Tensor) -> Tuple[Tuple[Tensor, ...], Tuple[Tensor, ...]]:
        """Images -> (backbone stage outputs, the final head's input features)."""
        stages = tuple(self.backbone(inputs))
        feats = tuple(self.neck(stages)) if self.neck is not None else stages
        return stages, feats

    def forward_levels(self, inputs: Tensor) -> Dict[str, Tensor]:
        """Images (B, 3, H, W) -> ``{level: seg logits (B, C, h_l, w_l)}`` at each head's resolution.

        Sets ``shared_rep`` to the shared features of this forward.
        """
        stages, feats = self._stage_features(inputs)
        self.shared_rep = feats
        out = {}
        if self.aux_head is not None:
            out['aux'] = self.aux_head(list(stages if self.aux_input == 'backbone' else feats))
        out['final'] = self.heads[self.task](list(feats))
        return out

    def level_losses(self, levels: Dict[str, Tensor], data_samples: SampleList) -> Dict[str, Tensor]:
        """Ground-truth terms of each level: ``'<task>.loss_ce'``, ``'<task>.acc_seg'`` (final) and
        ``'<task>.aux.loss_ce'`` (× ``aux_weight``), ``'<task>.aux.acc_seg'`` (intermediate)."""
        losses = add_prefix(self.heads[self.task].loss_by_feat(levels['final'], data_samples), self.task)
        if self.aux_head is not None:
            aux = self.aux_head.loss_by_feat(levels['aux'], data_samples)
            losses.update({f'{self.task}.aux.{k}': v * self.aux_weight if 'loss' in k else v
                           for k, v in aux.items()})
        return losses

    # ----------------------------------------------------------------- modes
    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        """Both levels' ground-truth terms (:meth:`level_losses`)."""
        return self.level_losses(self.forward_levels(inputs), data_samples)

    # predict / _forward / encode_decode: JointStudent's (the final head only)


@MODELS.register_module()
class ASPPClassifierHead(BaseDecodeHead):
    """DeepLab-v2's classifier (AdaptSegNet's ``Classifier_Module``): parallel 3×3 convolutions with dilations
    ``d`` from the input feature straight to the class logits, summed.

    ``conv_seg`` is the summed classifier (so :func:`~jdbench.models.teachers.recorder.prediction_layer`'s
    ``heads.<task>.conv_seg`` records its input, the backbone feature). Weights are initialised N(0, 0.01) as
    in DeepLab-v2 (mmseg's default for ``conv_seg``).

    AdaptSegNet's ``Classifier_Module.forward`` returns inside its loop, so only the first two branches
    (dilations 6 and 12) are summed: ``dilations=(6, 12)`` computes exactly that (the two unused branches,
    which hold parameters there, are not built here).

    Args:
        in_channels (int): channels of the input stage (e.g. 1024 for ResNet-101's stage 3, 2048 stage 4).
        dilations (sequence[int]): one branch per dilation (padding = dilation). Defaults to
            ``(6, 12, 18, 24)`` (DeepLab-v2 ASPP-L).
        **kwargs: :class:`BaseDecodeHead` arguments (``num_classes``, ``in_index``, ``loss_decode``, ...);
            ``channels`` is ``in_channels`` and there is no dropout unless ``dropout_ratio`` is given.
    """

    def __init__(self, in_channels: int, dilations: Sequence[int] = (6, 12, 18, 24), **kwargs) -> None:
        if not dilations:
            raise ValueError('ASPPClassifierHead needs at least one dilation')
        kwargs.setdefault('dropout_ratio', 0.0)
        kwargs.pop('channels', None)
        super().__init__(in_channels, in_channels, **kwargs)
        self.dilations = tuple(int(d) for d in dilations)
        self.conv_seg = _SummedDilatedConvs(in_channels, self.out_channels, self.dilations)

    def forward(self, inputs: List[Tensor]) -> Tensor:
        """Multi-level features -> logits (B, C, h, w) of the stage ``in_index``."""
        return self.cls_seg(self._transform_inputs(inputs))


class _SummedDilatedConvs(nn.Module):
    """Σ_d conv3x3_d(x): one dilated 3×3 convolution (with bias) per dilation, outputs summed."""

    def __init__(self, in_channels: int, out_channels: int, dilations: Sequence[int]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(in_channels, out_channels, 3, padding=d, dilation=d, bias=True) for d in dilations)

    def forward(self, x: Tensor) -> Tensor:
        out = self.convs[0](x)
        for conv in self.convs[1:]:
            out = out + conv(x)
        return out
