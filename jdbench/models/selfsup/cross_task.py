"""Cross-task distillation from a segmentation teacher into a depth network (X-Distill, BMVC 2021).

A small trainable translator turns the predicted disparity into logits over K class groups; the frozen
segmentation teacher's output, grouped from its classes into the same K groups, supervises them; the gradient
reaches the depth network through the translator. The pieces are standalone:

* :class:`ClassGrouping`: the map from the teacher's classes (Cityscapes 19 by default) to K groups, checked
  (every class in exactly one group); :data:`GROUPINGS` holds the named presets.
* :class:`DisparityTranslator`: disparity map(s) -> K group logits.
* :class:`CrossTaskDistillLoss`: CE to the teacher's grouped hard labels, or KL to its grouped soft output.
* :func:`cross_task_distill`: the three together, for any model that has a disparity (or depth) map and a
  segmentation teacher's logits (``XDistill``, ``KDStaticXD``).
* :class:`TeacherLabelCache`: the teacher's grouped targets computed once per frame (the cached-labels
  option).

The paper's translator, grouping, loss form and weight are not public; every choice here is documented in
``docs/methods.md`` (X-Distill) with its config switch.
"""
import hashlib
import os
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.datasets import CityscapesDataset
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig
from torch import Tensor

from jdbench.registry import MODELS

#: the 19 Cityscapes evaluation classes, in train-ID order (the default teacher classes)
CITYSCAPES_CLASSES: Tuple[str, ...] = tuple(CityscapesDataset.METAINFO['classes'])
IGNORE_INDEX = 255

#: Named groupings of the Cityscapes classes (group name -> class names). ``'depth4'`` is the default; see
#: ``docs/methods.md`` (X-Distill) for the reasons.
GROUPINGS: Dict[str, Dict[str, Tuple[str, ...]]] = {
    # K=3: what a depth map tells apart most easily
    'depth3': dict(
        ground=('road', 'sidewalk', 'terrain'),
        sky=('sky', ),
        other=('building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign', 'vegetation', 'person',
               'rider', 'car', 'truck', 'bus', 'train', 'motorcycle', 'bicycle')),
    # K=4 (default): ground plane, static vertical structure, sky, movable objects
    'depth4': dict(
        ground=('road', 'sidewalk', 'terrain'),
        structure=('building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign', 'vegetation'),
        sky=('sky', ),
        objects=('person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle', 'bicycle')),
    # K=7: the official Cityscapes categories
    'category7': dict(
        flat=('road', 'sidewalk'),
        construction=('building', 'wall', 'fence'),
        object=('pole', 'traffic light', 'traffic sign'),
        nature=('vegetation', 'terrain'),
        sky=('sky', ),
        human=('person', 'rider'),
        vehicle=('car', 'truck', 'bus', 'train', 'motorcycle', 'bicycle')),
    # K=19: no grouping (the teacher's own classes)
    'classes19': {c: (c, ) for c in CITYSCAPES_CLASSES},
}
DEFAULT_GROUPING = 'depth4'


@MODELS.register_module()
class ClassGrouping(nn.Module):
    """A partition of a segmentation teacher's classes into K groups.

    Args:
        groups (str | dict): a preset name of :data:`GROUPINGS` (``'depth3'``, ``'depth4'``, ``'category7'``,
            ``'classes19'``), or an ordered dict group name -> list of class names (or class indices). Every
            class must be in exactly one group. Defaults to ``'depth4'``.
        classes (Sequence[str], optional): the teacher's class names in its output-channel order. Defaults to
            the 19 Cityscapes classes.

    ``index`` (C,) is the group of each class; :meth:`labels` maps class labels to group labels,
    :meth:`probs` teacher logits to group probabilities (the sum of the class probabilities in each group).
    """

    def __init__(self, groups: Union[str, Mapping[str, Sequence[Union[str, int]]]] = DEFAULT_GROUPING,
                 classes: Optional[Sequence[str]] = None) -> None:
        super().__init__()
        self.classes = tuple(classes) if classes is not None else CITYSCAPES_CLASSES
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f'the teacher classes name a class twice: {self.classes}')
        if isinstance(groups, str):
            if groups not in GROUPINGS:
                raise KeyError(f'unknown grouping {groups!r}; presets: {sorted(GROUPINGS)}, or give a dict '
                               'group name -> class names')
            self.preset: Optional[str] = groups
            groups = GROUPINGS[groups]
        else:
            self.preset = None
        if not isinstance(groups, Mapping) or not groups:
            raise TypeError('groups must be a preset name or a non-empty dict group -> classes, got '
                            f'{groups!r}')
        self.group_names = tuple(str(g) for g in groups)
        where: Dict[int, str] = {}
        for group, members in groups.items():
            if isinstance(members, (str, int)):
                members = [members]
            if not members:
                raise ValueError(f'group {group!r} of the grouping has no class')
            for member in members:
                idx = self._class_index(member, group)
                if idx in where:
                    raise ValueError(f'class {self.classes[idx]!r} is in groups {where[idx]!r} and '
                                     f'{group!r}; each teacher class must be in exactly one group')
                where[idx] = str(group)
        left_out = [c for i, c in enumerate(self.classes) if i not in where]
        if left_out:
            raise ValueError(f'the grouping leaves teacher classes {left_out} out; put each of the '
                             f"teacher's {len(self.classes)} classes {list(self.classes)} in exactly one "
                             'group (see docs/methods.md, X-Distill)')
        order = {g: k for k, g in enumerate(self.group_names)}
        index = torch.tensor([order[where[i]] for i in range(len(self.classes))], dtype=torch.long)
        self.register_buffer('index', index, persistent=False)
        # label map with the ignore value kept: lut[class] = group, lut[255] = 255
        lut = torch.full((256, ), IGNORE_INDEX, dtype=torch.long)
        lut[:len(self.classes)] = index
        self.register_buffer('lut', lut, persistent=False)

    def _class_index(self, member: Union[str, int], group: str) -> int:
        if isinstance(member, (int, np.integer)) and not isinstance(member, bool):
            if not 0 <= int(member) < len(self.classes):
                raise ValueError(f'group {group!r}: class index {member} is out of range for '
                                 f'{len(self.classes)} teacher classes')
            return int(member)
        if member not in self.classes:
            raise ValueError(f'group {group!r}: {member!r} is not a teacher class; classes: '
                             f'{list(self.classes)}')
        return self.classes.index(member)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def num_groups(self) -> int:
        return len(self.group_names)

    def check_teacher(self, num_classes: Optional[int], name: str = 'teacher') -> None:
        """A clear error when a teacher predicts another number of classes than the grouping is over."""
        if num_classes != self.num_classes:
            raise ValueError(f'{name} predicts {num_classes} classes, but the grouping is over '
                             f'{self.num_classes} classes {list(self.classes)}; give the grouping the '
                             "teacher's class names in its output order (classes=...) and a map over them, "
                             f'or use a teacher trained on these {self.num_classes} classes')

    def labels(self, class_labels: Tensor) -> Tensor:
        """Class labels (any shape, long; 255 = ignore) -> group labels (255 kept)."""
        return self.lut.to(class_labels.device)[class_labels.long().clamp(0, 255)]

    def probs(self, logits: Tensor) -> Tensor:
        """Teacher logits (B, C, h, w) -> group probabilities (B, K, h, w): the softmax summed per group."""
        if logits.shape[1] != self.num_classes:
            self.check_teacher(logits.shape[1], 'the teacher output')
        p = logits.float().softmax(dim=1)
        out = p.new_zeros(p.shape[0], self.num_groups, *p.shape[2:])
        return out.index_add_(1, self.index.to(p.device), p)

    def targets(self, logits: Tensor, mode: str) -> Tensor:
        """Teacher logits -> the loss target: group labels (B, h, w) of the teacher's argmax class for
        ``'ce'``, group probabilities (B, K, h, w) for ``'kl'``."""
        if mode == 'ce':
            if logits.shape[1] != self.num_classes:
                self.check_teacher(logits.shape[1], 'the teacher output')
            return self.labels(logits.argmax(dim=1))
        return self.probs(logits)

    def extra_repr(self) -> str:
        groups = {g: [c for c, k in zip(self.classes, self.index.tolist()) if k == i]
                  for i, g in enumerate(self.group_names)}
        return f'preset={self.preset!r}, groups={groups}'


NORMALIZATIONS = ('mean', 'none')


@MODELS.register_module()
class DisparityTranslator(BaseModule):
    """A small conv net from disparity to K group logits (X-Distill's depth -> segmentation translator).

    The disparity of each read scale is divided by its per-image mean (monocular depth is known up to scale:
    this makes the translator see shape, not scale), resized bilinearly to the finest read scale and
    concatenated; ``num_convs`` 3×3 Conv-BN-ReLU blocks (dilations ``dilations``, the first with stride
    ``stride``) and a 1×1 convolution give the logits at ``1/stride`` of the finest read scale's resolution.
    The default reads the full-resolution disparity (so the term reaches the deployed output layer directly)
    and works at half of it (a quarter of the cost; the cross-task term then costs about 1% of a Monodepth2
    iteration on top of the teacher).

    Args:
        num_groups (int): K.
        in_scales (Sequence[int]): the disparity scales read (0 = full resolution). Defaults to (0, ).
        channels (int): width. Defaults to 16.
        num_convs (int): 3×3 blocks. Defaults to 3.
        dilations (Sequence[int]): dilation of each 3×3 block. Defaults to (1, 2, 4): with ``stride=2`` a
            receptive field of 27 input pixels.
        stride (int): stride of the first block. Defaults to 2.
        normalize (str): ``'mean'`` (divide by the per-image mean) or ``'none'``. Defaults to ``'mean'``.
        detach_scale (bool): no gradient through the normalising mean. Defaults to False.
        detach_input (bool): no gradient into the depth network at all (the translator still learns; an
            ablation that removes X-Distill's effect on depth). Defaults to False.
        norm_cfg (dict, optional): normalisation of the blocks. Defaults to BN.
        act_cfg (dict): activation. Defaults to ReLU.
    """

    def __init__(self,
                 num_groups: int,
                 in_scales: Sequence[int] = (0, ),
                 channels: int = 16,
                 num_convs: int = 3,
                 dilations: Optional[Sequence[int]] = (1, 2, 4),
                 stride: int = 2,
                 normalize: str = 'mean',
                 detach_scale: bool = False,
                 detach_input: bool = False,
                 norm_cfg: OptConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if normalize not in NORMALIZATIONS:
            raise ValueError(f'normalize must be one of {NORMALIZATIONS}, got {normalize!r}')
        self.in_scales = tuple(int(s) for s in in_scales)
        if not self.in_scales or len(set(self.in_scales)) != len(self.in_scales):
            raise ValueError(f'in_scales must name distinct disparity scales, got {list(in_scales)}')
        dilations = tuple(dilations) if dilations is not None else (1, ) * num_convs
        if len(dilations) != num_convs:
            raise ValueError(f'dilations needs one value per conv block ({num_convs}), got {list(dilations)}')
        self.num_groups, self.normalize = int(num_groups), normalize
        self.detach_scale, self.detach_input = detach_scale, detach_input
        if int(stride) < 1 or num_convs < 1:
            raise ValueError(f'need stride >= 1 and num_convs >= 1, got stride={stride}, '
                             f'num_convs={num_convs}')
        self.stride = int(stride)
        layers, c_in = [], len(self.in_scales)
        for k, d in enumerate(dilations):
            layers.append(ConvModule(c_in, channels, 3, stride=self.stride if k == 0 else 1, padding=d,
                                     dilation=d, norm_cfg=norm_cfg, act_cfg=act_cfg))
            c_in = channels
        self.convs = nn.Sequential(*layers)
        self.cls = nn.Conv2d(c_in, self.num_groups, 1)

    def select(self, disps: Union[Tensor, Sequence[Tensor], Mapping[int, Tensor]],
               scales: Optional[Sequence[int]] = None) -> List[Tensor]:
        """The disparities of ``in_scales`` from a tensor (one scale), a list aligned with ``scales`` (default
        0, 1, ...) or a dict scale -> tensor."""
        if isinstance(disps, Tensor):
            if len(self.in_scales) != 1:
                raise ValueError(f'the translator reads scales {self.in_scales}; give a list or dict of '
                                 'disparities, not one tensor')
            return [disps]
        if not isinstance(disps, Mapping):
            scales = list(range(len(disps))) if scales is None else list(scales)
            disps = dict(zip(scales, disps))
        missing = [s for s in self.in_scales if s not in disps]
        if missing:
            raise KeyError(f'the translator reads disparity scales {list(self.in_scales)}, but scales '
                           f'{missing} are not predicted (available: {sorted(disps)}); set the '
                           "translator's in_scales to scales of the depth decoder")
        return [disps[s] for s in self.in_scales]

    def prepare(self, disp: Tensor) -> Tensor:
        """One disparity (B, 1, h, w) -> the translator's input channel (mean-normalised, detached as set)."""
        if self.detach_input:
            disp = disp.detach()
        if self.normalize == 'mean':
            mean = disp.mean(dim=(2, 3), keepdim=True)
            disp = disp / ((mean.detach() if self.detach_scale else mean) + 1e-7)
        return disp

    def output_size(self, disps: Union[Tensor, Sequence[Tensor], Mapping[int, Tensor]],
                    scales: Optional[Sequence[int]] = None) -> Tuple[int, int]:
        """(h, w) of the logits for these disparities (without running the net)."""
        h, w = max((tuple(d.shape[2:]) for d in self.select(disps, scales)), key=lambda s: s[0] * s[1])
        return (h - 1) // self.stride + 1, (w - 1) // self.stride + 1

    def forward(self, disps: Union[Tensor, Sequence[Tensor], Mapping[int, Tensor]],
                scales: Optional[Sequence[int]] = None) -> Tensor:
        """Disparities (see :meth:`select`) -> group logits (B, K, h, w) at ``1/stride`` of the finest read
        scale."""
        maps = [self.prepare(d) for d in self.select(disps, scales)]
        size = max((m.shape[2:] for m in maps), key=lambda s: s[0] * s[1])
        x = torch.cat([m if m.shape[2:] == size else F.interpolate(
            m, size=size, mode='bilinear', align_corners=False) for m in maps], dim=1)
        return self.cls(self.convs(x))


MODES = ('ce', 'kl')


@MODELS.register_module()
class CrossTaskDistillLoss(nn.Module):
    """The cross-task term between the translator's group logits and the teacher's grouped output.

    ``'ce'``: ``λ · mean_p CE(z(p), g(argmax_c t(p)))`` over the pixels whose teacher label is not ignored.
    ``'kl'``: ``λ · mean_p Σ_k P_k(p) (log P_k(p) − log softmax(z(p))_k)`` with the grouped teacher
    probabilities ``P_k = Σ_{c ∈ k} softmax(t)_c``.

    Args:
        mode (str): ``'ce'`` or ``'kl'``. Defaults to ``'ce'``.
        loss_weight (float): λ_xd. Defaults to 0.1.
        ignore_index (int): ignored label for ``'ce'``. Defaults to 255.
        loss_name (str): key of the term. Defaults to ``'loss_xd'``.
    """

    def __init__(self, mode: str = 'ce', loss_weight: float = 0.1, ignore_index: int = IGNORE_INDEX,
                 loss_name: str = 'loss_xd') -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
        self.mode, self.loss_weight = mode, loss_weight
        self.ignore_index, self.loss_name = ignore_index, loss_name

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """Group logits (B, K, h, w) and the target: labels (B, h, w) for ``'ce'``, probabilities (B, K, h, w)
        for ``'kl'``, at the logits' size."""
        if target.shape[-2:] != logits.shape[-2:]:
            raise ValueError(f'the target {tuple(target.shape)} and the logits {tuple(logits.shape)} differ '
                             'in size; resize the teacher output to the translator\'s first')
        if self.mode == 'ce':
            if target.dim() != 3:
                raise ValueError(f"mode 'ce' takes group labels (B, h, w), got {tuple(target.shape)}")
            valid = target != self.ignore_index
            if not valid.any():
                return logits.sum() * 0.
            return self.loss_weight * F.cross_entropy(logits.float(), target.long(),
                                                      ignore_index=self.ignore_index)
        if target.shape != logits.shape:
            raise ValueError(f"mode 'kl' takes group probabilities {tuple(logits.shape)}, "
                             f'got {tuple(target.shape)}')
        p = target.float()
        kl = (p * (torch.log(p.clamp_min(1e-12)) - F.log_softmax(logits.float(), dim=1))).sum(dim=1)
        return self.loss_weight * kl.mean()


def resize_logits(logits: Tensor, size: Sequence[int]) -> Tensor:
    """Bilinear resize of logits (before any softmax), a no-op at the same size."""
    if tuple(logits.shape[2:]) == tuple(size):
        return logits
    return F.interpolate(logits, size=tuple(size), mode='bilinear', align_corners=False)


def cross_task_distill(disps: Union[Tensor, Sequence[Tensor], Mapping[int, Tensor]],
                       teacher_logits: Optional[Tensor],
                       translator: DisparityTranslator,
                       grouping: ClassGrouping,
                       loss: CrossTaskDistillLoss,
                       target: Optional[Tensor] = None,
                       scales: Optional[Sequence[int]] = None) -> Tuple[Tensor, Tensor, Tensor]:
    """The cross-task term: translator(disparity) against the grouped teacher.

    Args:
        disps: the depth network's disparity (a tensor, a list aligned with ``scales`` or a dict scale ->
            tensor); a joint student passes ``1 / depth``.
        teacher_logits (Tensor | None): the segmentation teacher's logits (B, C, h_t, w_t), resized bilinearly
            to the translator's output before the softmax / argmax. ``None`` when ``target`` is given.
        translator, grouping, loss: the three pieces.
        target (Tensor, optional): a precomputed target at the translator's size (cached labels).
        scales: the scales of a list ``disps`` (default 0, 1, ...).

    Returns:
        (loss value, translator logits (B, K, h, w), the target used).
    """
    logits = translator(disps, scales)
    if target is None:
        if teacher_logits is None:
            raise ValueError('cross_task_distill needs the teacher logits or a precomputed target')
        with torch.no_grad():
            target = grouping.targets(resize_logits(teacher_logits.detach(), logits.shape[2:]), loss.mode)
    return loss(logits, target), logits, target


def group_agreement(logits: Tensor, target: Tensor, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Fraction of pixels where the translator's argmax group equals the teacher's (a log value)."""
    with torch.no_grad():
        labels = target if target.dim() == 3 else target.argmax(dim=1)
        valid = labels != ignore_index
        hit = (logits.argmax(dim=1) == labels) & valid
        return hit.sum().float() / valid.sum().clamp_min(1).float()


class TeacherLabelCache:
    """The teacher's grouped targets, computed once per frame and kept in memory or in ``cache_dir``.

    An entry is keyed by the frame's image path, its flip, its input size and the target kind; hard labels are
    stored as uint8, soft targets as float16, on the CPU. Files in ``cache_dir`` (``<sha1>.npy``) are written
    atomically and reused by later runs; delete the folder when the teacher changes. With a folder, entries
    are read back from disk each time unless ``keep_in_memory`` (KITTI eigen_zhou's 40k frames hold about
    1.2 GB of hard labels at 96×320, ten times that for K = 4 soft targets).

    Args:
        cache_dir (str, optional): a folder for the entries; ``None`` keeps them in memory only.
        keep_in_memory (bool, optional): also keep every entry in memory. Defaults to True without a folder,
            False with one.
    """

    def __init__(self, cache_dir: Optional[str] = None, keep_in_memory: Optional[bool] = None) -> None:
        self.cache_dir = cache_dir
        self.keep_in_memory = cache_dir is None if keep_in_memory is None else bool(keep_in_memory)
        self.memory: Dict[str, Tensor] = {}
        self.count = 0
        if cache_dir is not None:
            os.makedirs(cache_dir, exist_ok=True)

    @staticmethod
    def key(meta: Mapping, size: Sequence[int], mode: str, frame_index: int = 0) -> str:
        """The entry key of one sample (needs the image path in ``img_paths`` or ``img_path``)."""
        paths = meta.get('img_paths')
        if paths is not None:
            path = paths[frame_index]
        else:
            path = meta.get('img_path')
        if path is None:
            raise KeyError("cached teacher labels need each sample's image path in its metainfo "
                           f"('img_paths' or 'img_path'), found keys {sorted(meta)}; add it in the packing "
                           "transform or use teacher_mode='online'")
        parts = [str(path), f'flip={bool(meta.get("flip", False))}:{meta.get("flip_direction")}',
                 f'size={tuple(int(s) for s in size)}', f'crop={meta.get("crop_bbox")}', mode]
        return '|'.join(parts)

    def _file(self, key: str) -> str:
        return osp.join(self.cache_dir, hashlib.sha1(key.encode()).hexdigest() + '.npy')

    def get(self, key: str) -> Optional[Tensor]:
        if key in self.memory:
            return self.memory[key]
        if self.cache_dir is not None and osp.isfile(self._file(key)):
            value = torch.from_numpy(np.load(self._file(key)))
            if self.keep_in_memory:
                self.memory[key] = value
            return value
        return None

    def put(self, key: str, value: Tensor) -> Tensor:
        """Store an entry; returns it as stored (uint8 / float16, CPU)."""
        value = value.detach().cpu()
        value = value.to(torch.uint8) if value.dtype == torch.long else value.to(torch.float16)
        self.count += 1
        if self.keep_in_memory or self.cache_dir is None:
            self.memory[key] = value
        if self.cache_dir is not None:
            path = self._file(key)
            tmp = f'{path}.{os.getpid()}.part'
            with open(tmp, 'wb') as f:
                np.save(f, value.numpy())
            os.replace(tmp, path)
        return value

    def __len__(self) -> int:
        """Entries computed by this cache (this run)."""
        return self.count
