"""kd_static plus X-Distill's cross-task term: the seg teacher also teaches the student's depth head."""
import copy
from typing import Dict, Optional, Tuple

from mmseg.utils import ConfigType, SampleList
from torch import Tensor

from jdbench.registry import MODELS
from ..selfsup.cross_task import DEFAULT_GROUPING, ClassGrouping, cross_task_distill, group_agreement
from ..teachers import TeacherOutput
from .kd_static import KDStatic


@MODELS.register_module()
class KDStaticXD(KDStatic):
    """:class:`KDStatic` plus X-Distill's cross-task term (X-Distill's idea in the joint student's setting).

    A :class:`DisparityTranslator` turns the student's depth-head output, as disparity
    ``1/max(d, min_depth)``, into K group logits; the segmentation teacher's logits (the same single forward
    that kd_static uses), resized to the translator's output and grouped by a :class:`ClassGrouping`,
    supervise them with a :class:`CrossTaskDistillLoss`. The gradient reaches the depth head (and the shared
    backbone) through the translator. The term is ``xd.<teacher>.loss_xd``, outside every balanced
    objective, so it is added with its own weight λ_xd (the loss's ``loss_weight``) and the kd_static terms
    and their weighting are unchanged; ``xd.<teacher>.acc_xd`` logs the argmax agreement. The translator is
    trained with the student and is not exported (``export_state_dict`` is the student's).

    Args:
        cross_task (dict): ``teacher`` (the segmentation teacher's name, default ``'seg'``), ``task`` (the
            student's depth task, default ``'depth'``), ``translator`` (a ``DisparityTranslator`` config;
            ``num_groups`` follows the grouping, ``in_scales`` must be ``(0,)``: the head has one output),
            ``grouping`` (default ``'depth4'``), ``classes`` (the teacher's class names; default the 19
            Cityscapes classes), ``loss`` (a ``CrossTaskDistillLoss`` config), ``min_depth`` (default 1e-3).
        Others: see :class:`KDStatic`.
    """

    def __init__(self,
                 student: ConfigType,
                 teachers: Dict[str, Optional[ConfigType]],
                 cross_task: ConfigType = dict(),
                 **kwargs) -> None:
        super().__init__(student, teachers, **kwargs)
        cfg = copy.deepcopy(dict(cross_task))
        self.xd_teacher, self.xd_task = str(cfg.pop('teacher', 'seg')), str(cfg.pop('task', 'depth'))
        translator = dict(cfg.pop('translator', dict(type='DisparityTranslator')))
        grouping, classes = cfg.pop('grouping', DEFAULT_GROUPING), cfg.pop('classes', None)
        loss = cfg.pop('loss', dict(type='CrossTaskDistillLoss'))
        self.xd_min_depth = float(cfg.pop('min_depth', 1e-3))
        if cfg:
            raise KeyError(f'unknown cross_task keys {sorted(cfg)}; known: teacher, task, translator, '
                           'grouping, classes, loss, min_depth')
        if self.xd_teacher not in self.teachers or self.teachers[self.xd_teacher].kind != 'seg':
            raise ValueError(f'cross_task.teacher={self.xd_teacher!r} must name a segmentation teacher of '
                             f'the distiller (teachers: {self.teacher_names})')
        if self.xd_task not in self.student.task_names or self.student.task_kind(self.xd_task) != 'depth':
            raise ValueError(f'cross_task.task={self.xd_task!r} must name a depth task of the student '
                             f'({self.student.task_names})')
        teacher = self.teachers[self.xd_teacher]
        self.xd_grouping = ClassGrouping(grouping, classes)
        self.xd_grouping.check_teacher(teacher.num_classes,
                                       f'teacher {self.xd_teacher!r} ({teacher.config_path or "its config"})')
        translator.setdefault('type', 'DisparityTranslator')
        translator.setdefault('num_groups', self.xd_grouping.num_groups)
        if translator['num_groups'] != self.xd_grouping.num_groups:
            raise ValueError(f'cross_task.translator.num_groups={translator["num_groups"]} but the grouping '
                             f'has {self.xd_grouping.num_groups} groups; leave num_groups out')
        self.xd_translator = MODELS.build(translator)
        if self.xd_translator.in_scales != (0, ):
            raise ValueError('the student\'s depth head has one output: cross_task.translator.in_scales '
                             f'must be (0,), got {self.xd_translator.in_scales}')
        self.xd_loss = MODELS.build(loss)

    def cross_task_terms(self, depth: Tensor, teacher_logits: Tensor) -> Dict[str, Tensor]:
        """``{'xd.<teacher>.loss_xd', 'xd.<teacher>.acc_xd'}`` from the student's depth (B, 1, h, w) and the
        teacher's logits."""
        disp = 1. / depth.clamp_min(self.xd_min_depth)
        loss, logits, target = cross_task_distill(disp, teacher_logits, self.xd_translator, self.xd_grouping,
                                                  self.xd_loss)
        prefix = f'xd.{self.xd_teacher}.'
        return {prefix + self.xd_loss.loss_name: loss,
                prefix + 'acc_xd': group_agreement(logits, target, self.xd_loss.ignore_index)}

    def distill_losses(self, inputs: Tensor, data_samples: SampleList, feats: Tuple[Tensor, ...],
                       outs: Dict[str, Tensor], teacher_outs: Dict[str, TeacherOutput]) -> Dict[str, Tensor]:
        losses = super().distill_losses(inputs, data_samples, feats, outs, teacher_outs)
        losses.update(self.cross_task_terms(outs[self.xd_task], teacher_outs[self.xd_teacher].out))
        return losses

