"""X-Distill (Cai et al., BMVC 2021): Monodepth2 + cross-task distillation from a frozen seg teacher."""
import copy
from types import SimpleNamespace
from typing import Dict, List, Mapping, Optional, Sequence, Union

import torch
from mmseg.utils import ConfigType, OptConfigType, SampleList
from torch import Tensor

from jdbench.registry import MODELS
from ..objectives import Objective
from ..teachers import Teacher
from .cross_task import (DEFAULT_GROUPING, ClassGrouping, TeacherLabelCache, cross_task_distill,
                         group_agreement)
from .monodepth2 import Monodepth2, SequenceBatch

TEACHER_MODES = ('online', 'cached')


def unit_rgb_preprocessor(channel_conversion: bool = True) -> SimpleNamespace:
    """What :meth:`Teacher.match_input_normalization` needs to know about inputs that are RGB in [0, 1]
    (``(x − 0)/255`` of 0..255 images, after a BGR -> RGB conversion)."""
    return SimpleNamespace(_enable_normalize=True, mean=torch.zeros(3), std=torch.full((3, ), 255.),
                           channel_conversion=channel_conversion)


@MODELS.register_module()
class XDistill(Monodepth2):
    """Monodepth2 taught by a frozen segmentation teacher through a disparity -> segmentation translator.

    On top of Monodepth2's terms, ``kd.<teacher_name>.loss_xd`` =
    :class:`CrossTaskDistillLoss` (``translator(disparity)``, ``grouping(teacher(frame 0))``): the translator
    reads the depth net's disparity of ``translator.in_scales`` (with gradient, so the depth net learns from
    it), the teacher reads the raw target frame (online, or once per frame with ``teacher_mode='cached'``)
    and its output is resized to the translator's and grouped into K groups. ``kd.<teacher_name>.acc_xd``
    (logged only) is the pixel agreement of the two argmax maps.

    The teacher is a :class:`Teacher` (config + checkpoint), kept out of the registered sub-modules as in
    every jdbench distiller (not in the optimizer, the checkpoints or DDP; eval mode and frozen for good;
    moved with the model). Only the depth net is deployed (:meth:`export_state_dict`).

    Args:
        teacher (dict): the :class:`Teacher` config (a segmentation model).
        translator (dict): :class:`DisparityTranslator` config; ``num_groups`` comes from the grouping.
        grouping (str | dict): :class:`ClassGrouping` ``groups`` (a preset name or group -> classes).
            Defaults to ``'depth4'``.
        classes (Sequence[str], optional): the teacher's class names in output order. Defaults to the 19
            Cityscapes classes.
        xd_loss (dict): :class:`CrossTaskDistillLoss` config (``mode`` ``'ce'``/``'kl'``, ``loss_weight``
            λ_xd).
        teacher_name (str): the name in the loss keys. Defaults to ``'seg'``.
        teacher_mode (str): ``'online'`` (the teacher runs every iteration) or ``'cached'`` (once per frame;
            needs image paths in the samples' metainfo). Defaults to ``'online'``.
        cache_dir (str, optional): where ``'cached'`` keeps its entries, on disk and read back when needed
            (a KITTI-sized run); ``None`` (default) keeps them in memory.
        Others: see :class:`Monodepth2`.
    """

    def __init__(self,
                 depth_net: ConfigType,
                 pose_net: ConfigType,
                 teacher: ConfigType,
                 translator: ConfigType = dict(type='DisparityTranslator'),
                 grouping: Union[str, Mapping[str, Sequence]] = DEFAULT_GROUPING,
                 classes: Optional[Sequence[str]] = None,
                 xd_loss: ConfigType = dict(type='CrossTaskDistillLoss'),
                 teacher_name: str = 'seg',
                 teacher_mode: str = 'online',
                 cache_dir: Optional[str] = None,
                 weighting: OptConfigType = None,
                 **kwargs) -> None:
        super().__init__(depth_net, pose_net, weighting=None, **kwargs)
        if teacher_mode not in TEACHER_MODES:
            raise ValueError(f'teacher_mode must be one of {TEACHER_MODES}, got {teacher_mode!r}')
        self.teacher_name, self.teacher_mode = str(teacher_name), teacher_mode
        self.grouping = ClassGrouping(grouping, classes)
        translator = copy.deepcopy(dict(translator))
        translator.setdefault('type', 'DisparityTranslator')
        if translator.get('num_groups', self.grouping.num_groups) != self.grouping.num_groups:
            raise ValueError(f'translator.num_groups={translator["num_groups"]} but the grouping has '
                             f'{self.grouping.num_groups} groups {list(self.grouping.group_names)}; leave '
                             'num_groups out (it follows the grouping)')
        translator['num_groups'] = self.grouping.num_groups
        self.translator = MODELS.build(translator)
        missing = [s for s in self.translator.in_scales if s not in self.depth_net.scales]
        if missing:
            raise ValueError(f'the translator reads disparity scales {list(self.translator.in_scales)}, but '
                             f'the depth net predicts {list(self.depth_net.scales)}')
        self.xd_loss = MODELS.build(xd_loss)
        # a plain dict: the teacher is deliberately not a registered sub-module (see BaseDistiller)
        self.teachers: Dict[str, Teacher] = {self.teacher_name: self._build_teacher(teacher)}
        self.label_cache = TeacherLabelCache(cache_dir) if teacher_mode == 'cached' else None
        if weighting is not None:
            from jdbench.weighting import build_weighting
            self.weighting = build_weighting(weighting, objectives=self.objectives())

    def _build_teacher(self, cfg: ConfigType) -> Teacher:
        cfg = copy.deepcopy(dict(cfg))
        cfg.setdefault('type', 'Teacher')
        teacher = MODELS.build(cfg)
        src = getattr(teacher, 'config_path', None) or 'its config'
        if teacher.kind != 'seg':
            raise ValueError(f'the X-Distill teacher ({src}) is a {teacher.kind} model; give it a '
                             'segmentation teacher config')
        self.grouping.check_teacher(teacher.num_classes, f'the teacher ({src})')
        pre = self.data_preprocessor   # SequenceDataPreProcessor: RGB in [0, 1] unless bgr_to_rgb=False
        flip = bool(getattr(pre, 'channel_conversion', getattr(pre, 'bgr_to_rgb', True)))
        teacher.match_input_normalization(unit_rgb_preprocessor(flip))
        return teacher

    @property
    def teacher(self) -> Teacher:
        return self.teachers[self.teacher_name]

    def _apply(self, fn, *args, **kwargs):
        """Device/dtype moves also reach the unregistered teacher."""
        super()._apply(fn, *args, **kwargs)
        for teacher in getattr(self, 'teachers', {}).values():
            teacher._apply(fn, *args, **kwargs)
        return self

    def objectives(self) -> List[Objective]:
        """Monodepth2's ``depth`` objective, then the ``'distill'`` objective ``kd.<teacher_name>``."""
        return super().objectives() + [
            Objective(f'kd.{self.teacher_name}', f'kd.{self.teacher_name}.', 'distill', None)]

    # ----------------------------------------------------------------- the teacher's targets
    def teacher_targets(self, images: Tensor, data_samples: SampleList, size: Sequence[int],
                        frame_index: int = 0) -> Tensor:
        """Grouped teacher targets at ``size`` for the raw frames ``images`` (B, 3, H, W): from the cache
        where present (``teacher_mode='cached'``); the missing ones are computed in one teacher forward."""
        mode = self.xd_loss.mode
        if self.label_cache is None:
            return self.grouping.targets(self._teacher_logits(images, size), mode)
        keys = [self.label_cache.key(s.metainfo, size, mode, frame_index) for s in data_samples]
        values: List[Optional[Tensor]] = [self.label_cache.get(k) for k in keys]
        todo = [i for i, v in enumerate(values) if v is None]
        if todo:
            fresh = self.grouping.targets(self._teacher_logits(images[todo], size), mode)
            for j, i in enumerate(todo):
                values[i] = self.label_cache.put(keys[i], fresh[j])
        out = torch.stack([v.to(images.device) for v in values])
        return out.long() if mode == 'ce' else out.float()

    @torch.no_grad()
    def _teacher_logits(self, images: Tensor, size: Sequence[int]) -> Tensor:
        from .cross_task import resize_logits
        return resize_logits(self.teacher(images).out, size)

    def cross_task_terms(self, seq: SequenceBatch, disps: List[Tensor],
                         data_samples: SampleList) -> Dict[str, Tensor]:
        """``{'kd.<teacher>.loss_xd': ..., 'kd.<teacher>.acc_xd': ...}`` for one batch."""
        scales = self.depth_net.scales
        size = self.translator.output_size(disps, scales)
        target = self.teacher_targets(seq.raw[0], data_samples, size, seq.frame_ids.index(0))
        loss, logits, target = cross_task_distill(disps, None, self.translator, self.grouping, self.xd_loss,
                                                  target=target, scales=scales)
        prefix = f'kd.{self.teacher_name}.'
        return {prefix + self.xd_loss.loss_name: loss,
                prefix + 'acc_xd': group_agreement(logits, target, self.xd_loss.ignore_index)}

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        seq, disps, losses = self.forward_train(inputs, data_samples)
        losses.update(self.cross_task_terms(seq, disps, data_samples))
        return losses
