"""KD4MTL (Li & Bilen, ECCV-W 2020): feature distillation through task-specific adaptors."""
from typing import Dict, Optional, Tuple

import torch.nn as nn
from mmseg.utils import ConfigType, SampleList
from torch import Tensor

from jdbench.registry import MODELS
from ..teachers import TeacherOutput
from .base import BaseDistiller


@MODELS.register_module()
class KD4MTL(BaseDistiller):
    """Each teacher i gets an adaptor A_i (1x1 conv, no bias) on the student's shared feature s:
    ``kd.<i>.loss_feat = mean_pixels Σ_c (norm(A_i s) − norm(resize(t_i)))²`` with ``norm`` the L2
    normalisation over channels and t_i the teacher's corresponding shared feature (recorded as
    ``teacher_feature``). Fixed per-teacher weights come from the ``Fixed`` weighting (``balance='distill'``).

    Args:
        student_feature_index (int): which shared student level is distilled (0 = the finest FPN level).
        teacher_feature (str): name of the recorded teacher feature, e.g. ``'shared'`` recorded with
            ``dict(type='ModuleOutputsRecorder', source='neck', index=0)``.
        adaptor (dict): adaptor config; ``in_channels``/``out_channels`` are filled from the shapes.
        feat_loss (dict): the feature loss. Defaults to ``FeatureL2Loss`` (normalised, ``loss_feat``).
        Others: see :class:`BaseDistiller`.
    """

    def __init__(self,
                 student: ConfigType,
                 teachers: Dict[str, Optional[ConfigType]],
                 student_feature_index: int = 0,
                 teacher_feature: str = 'shared',
                 adaptor: ConfigType = dict(type='KD4MTLAdaptor'),
                 feat_loss: ConfigType = dict(type='FeatureL2Loss'),
                 **kwargs) -> None:
        super().__init__(student, teachers, **kwargs)
        self.student_feature_index = student_feature_index
        self.teacher_feature = teacher_feature
        student_channels = self._student_feature_shapes()[student_feature_index][0]
        adaptors = {}
        for name, teacher in self.teachers.items():
            if teacher_feature not in teacher.recorders:
                raise KeyError(f'teacher {name!r} records no feature {teacher_feature!r} (it records '
                               f'{list(teacher.recorders)}); add features=dict({teacher_feature}=dict('
                               "type='ModuleOutputsRecorder', source='neck', index=0)) to its config")
            teacher_channels = teacher.probe()[teacher_feature][0]
            adaptors[name] = MODELS.build(
                dict(adaptor, in_channels=student_channels, out_channels=teacher_channels))
        self.adaptors = nn.ModuleDict(adaptors)
        self.feat_loss = MODELS.build(feat_loss)

    def distill_losses(self, inputs: Tensor, data_samples: SampleList, feats: Tuple[Tensor, ...],
                       outs: Dict[str, Tensor], teacher_outs: Dict[str, TeacherOutput]) -> Dict[str, Tensor]:
        s = feats[self.student_feature_index]
        losses = {}
        for name, t_out in teacher_outs.items():
            t = self._resize_to(t_out.feats[self.teacher_feature], s)
            losses[f'kd.{name}.{self.feat_loss.loss_name}'] = self.feat_loss(self.adaptors[name](s), t)
        return losses
