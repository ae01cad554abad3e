"""JointDistill (Cheng et al., arXiv 2505.10057) as read in docs/methods.md."""
import math
from typing import Dict, Optional, Tuple

from mmengine.logging import MessageHub
from mmseg.utils import ConfigType, OptConfigType, SampleList
from torch import Tensor

from jdbench.registry import MODELS
from ..teachers import TeacherOutput
from .kd_static import KDStatic


@MODELS.register_module()
class JointDistill(KDStatic):
    """Connector-fused teacher, feedback-weighted KD, knowledge-trajectory loss.

    Loss terms (``L = Σ_i L_i^GT + Σ_i ω_i L_i^KD + Σ_i L_i^GT(connector) + λ_traj L_traj``):

    - ``<task>.*``: the student's ground-truth losses;
    - ``conn.<task>.*``: ground-truth losses of the connector's fused predictions p_i^F (the connector
      learns to be a fused teacher from the teachers' features ``teacher_feature``);
    - ``kd.<task>.*``: L_i^KD(p_i^S, stop_grad(p_i^F)) (temperature KL / depth loss, see :class:`KDStatic`);
      ω_i comes from the weighting (``Feedback``, ``balance='distill'``);
    - ``traj.*``: the knowledge-trajectory term from ``trajectory`` (``TrajectoryDistillLoss``).

    Ablations: ``connector=None`` distils straight from the teachers (kd_static's targets), a ``Fixed``
    weighting removes the feedback, ``trajectory=None`` the trajectory term.

    Args:
        connector (dict, optional): :class:`JointDistillConnector` config (``channels``, ``num_convs``,
            ``stride``); ``in_channels`` and ``heads`` are filled from the teachers and the student.
        teacher_feature (str): name of the recorded teacher feature f_i^T fed to the connector (default
            ``'last'``: the input of the teacher's last prediction layer, ``heads.<task>.conv_seg``).
        trajectory (dict, optional): the trajectory loss module; ``prepare(distiller)`` is called once before
            its first use, then ``trajectory(distiller, iteration)`` gives ``{'traj.<term>': loss}``.
        Others: see :class:`KDStatic` and :class:`BaseDistiller`.
    """

    def __init__(self,
                 student: ConfigType,
                 teachers: Dict[str, Optional[ConfigType]],
                 connector: OptConfigType = dict(type='JointDistillConnector'),
                 teacher_feature: str = 'last',
                 trajectory: OptConfigType = None,
                 **kwargs) -> None:
        super().__init__(student, teachers, **kwargs)
        self.teacher_feature = teacher_feature
        self.connector = self._build_connector(connector) if connector is not None else None
        self.trajectory = MODELS.build(trajectory) if trajectory is not None else None
        self._trajectory_prepared = False

    # ----------------------------------------------------------------- connector
    def _connector_head(self, task: str, channels: int) -> dict:
        """A conv-free decode head with the student head's classes / depth parametrisation and GT losses."""
        head = self.student.heads[task]
        loss_decode = self.student_cfg['heads'][task].get('loss_decode')
        common = dict(in_channels=channels, channels=channels, num_convs=0, in_index=0, dropout_ratio=0.0,
                      align_corners=head.align_corners)
        if loss_decode is not None:
            common['loss_decode'] = loss_decode
        if self.student.task_kind(task) == 'depth':
            return dict(type='DepthHead', parametrisation=head.parametrisation, min_depth=head.min_depth,
                        max_depth=head.max_depth, **common)
        return dict(type='FCNHead', num_classes=head.num_classes, ignore_index=head.ignore_index,
                    concat_input=False, **common)

    def _build_connector(self, cfg: ConfigType):
        in_channels = {}
        for name, teacher in self.teachers.items():
            if self.teacher_feature not in teacher.recorders:
                raise KeyError(
                    f'teacher {name!r} records no feature {self.teacher_feature!r} (it records '
                    f'{list(teacher.recorders)}); add features=dict({self.teacher_feature}=dict('
                    f"type='ModuleInputsRecorder', source='{teacher.output_layer}')) to its config")
            in_channels[name] = teacher.probe()[self.teacher_feature][0]
        channels = cfg.get('channels', 64)
        heads = {name: self._connector_head(name, channels) for name in self.teachers}
        return MODELS.build(dict(cfg, in_channels=in_channels, heads=heads))

    def fusion_size(self, inputs: Tensor, feats: Tuple[Tensor, ...]) -> Tuple[int, int]:
        """Size of the fused features: ``input / connector.stride``, or the student's finest head input."""
        if self.connector.stride:
            return (math.ceil(inputs.shape[2] / self.connector.stride),
                    math.ceil(inputs.shape[3] / self.connector.stride))
        levels = set()
        for head in self.student.heads.values():
            idx = getattr(head, 'in_index', 0)
            levels.update(idx if isinstance(idx, (list, tuple)) else [idx])
        finest = max((feats[i] for i in levels), key=lambda f: f.shape[2] * f.shape[3])
        return tuple(finest.shape[2:])

    # ----------------------------------------------------------------- losses
    def distill_losses(self, inputs: Tensor, data_samples: SampleList, feats: Tuple[Tensor, ...],
                       outs: Dict[str, Tensor], teacher_outs: Dict[str, TeacherOutput]) -> Dict[str, Tensor]:
        if self.connector is None:
            return super().distill_losses(inputs, data_samples, feats, outs, teacher_outs)
        fused = self.connector({name: t.feats[self.teacher_feature] for name, t in teacher_outs.items()},
                               self.fusion_size(inputs, feats))
        losses = self.connector.loss(fused, data_samples)
        for name in teacher_outs:
            # detached: the student's KD term never trains the connector
            losses.update(self.kd_terms(name, outs[name], fused[name].detach(), data_samples))
        return losses

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        losses = super().loss(inputs, data_samples)
        if self.trajectory is not None:
            if not self._trajectory_prepared:
                self.trajectory.prepare(self)
                self._trajectory_prepared = True
            # the runner's iteration (RuntimeInfoHook); 0 outside a runner
            losses.update(self.trajectory(self, MessageHub.get_current_instance().get_info('iter', 0)))
        return losses
