"""JointDistill (Cheng et al., arXiv 2505.10057) as read in docs/methods.md."""
import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmseg.utils import ConfigType, OptConfigType, SampleList
from torch import Tensor

from jdbench.registry import MODELS
from ..teachers import TeacherOutput
from ..trajectory import Probe, attention_maps, grid_size, probe_mode
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
        trajectory (dict, optional): the :class:`TrajectoryDistillLoss`. Its term is computed in the iterations
            for which :meth:`feed_trajectory` received the probe set (``TrajectoryHook`` feeds it).
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
        if self.trajectory is not None:
            self.trajectory.prepare(self.student, self.teachers)
        self._probe: Optional[Probe] = None
        self._progress = 0.0

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
        return dict(type='ConnectorSegHead', num_classes=head.num_classes, ignore_index=head.ignore_index,
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

    # ----------------------------------------------------------------- knowledge trajectory
    def feed_trajectory(self, probe: Union[None, Probe, dict, Sequence[dict]], progress: float) -> None:
        """What :class:`~jdbench.engine.hooks.TrajectoryHook` hands the model before an iteration: the probe set
        (a :class:`Probe`, or collated batches) on probe iterations, else None; ``progress`` = iteration /
        max_iters. The next ``loss`` computes the trajectory term when a probe set was fed."""
        if probe is not None and not isinstance(probe, Probe):
            probe = Probe(batches=[probe] if isinstance(probe, dict) else list(probe))
        self._probe, self._progress = probe, float(progress)

    def _probe_forward(self, batch: dict, run: Callable[[Tensor, SampleList], object]) -> Tuple[int, int]:
        """Pre-process one probe batch (no augmentation), ``run(inputs, data_samples)``; the input (H, W)."""
        data = self.data_preprocessor(batch, False)
        run(data['inputs'], data['data_samples'])
        return tuple(data['inputs'].shape[-2:])

    def _student_tensor(self, inputs: Tensor, data_samples: SampleList) -> object:
        return self.student(inputs=inputs, data_samples=data_samples, mode='tensor')

    @torch.no_grad()
    def _final_targets(self, tasks: List[str], probe: Probe) -> None:
        """The frozen teachers' attention maps on the probe set: the targets of the 'final' source."""
        traj = self.trajectory
        for task in tasks:
            teacher = self.teachers[task]
            maps, size = attention_maps(
                teacher.model, {task: traj.teacher_paths[task]}, probe.batches,
                forward=lambda batch: self._probe_forward(batch, lambda x, _: teacher(x)),
                grid=lambda key, input_size: (traj.p, grid_size(input_size, traj.stride)),
                io=traj.feature_io, owner=f'teacher {task!r}')
            traj.set_final_targets(task, maps[task], grid_size(size, traj.stride))

    def trajectory_terms(self) -> Dict[str, Tensor]:
        """``{'traj.loss_traj': loss}`` from the student's attention maps on the fed probe set."""
        traj, probe = self.trajectory, self._probe
        traj.check_probe(probe)
        finals = traj.final_tasks()
        if finals:
            self._final_targets(finals, probe)
        with probe_mode(self.student, traj.student_mode):
            maps, input_size = attention_maps(
                self.student, traj.student_paths, probe.batches,
                forward=lambda batch: self._probe_forward(batch, self._student_tensor), grid=traj.grid,
                io=traj.feature_io, owner='the student')
        return traj(maps, self._progress, input_size)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        losses = super().loss(inputs, data_samples)
        if self.trajectory is not None and self._probe is not None:
            losses.update(self.trajectory_terms())
        return losses
