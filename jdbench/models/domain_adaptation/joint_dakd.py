"""Domain-adaptive joint distillation: the joint student (segmentation + depth) adapted across a domain gap and
distilled from a segmentation and a depth teacher (docs/methods.md, "Domain-adaptive joint distillation")."""
import copy
from typing import Dict, List, Optional, Sequence, Tuple

from mmseg.models.utils import resize
from mmseg.structures import SegDataSample
from mmseg.utils import ConfigType, OptConfigType, SampleList
from torch import Tensor

from jdbench.registry import MODELS
from ..distillers.base import BaseDistiller
from ..objectives import Objective, distill_objectives
from ..students import JointStudent
from .adaptsegnet import ADAPT_KIND
from .dakd import DAKD, DOMAINS
from .segmentor import LEVELS


@MODELS.register_module()
class JointLevelStudent(JointStudent):
    """The joint student seen by the domain-adaptation models as a one-level segmentor.

    The same network and parameters as :class:`JointStudent` (its ``state_dict`` loads into the plain joint
    student), plus what :class:`AdaptSegNet` and :class:`DAKD` ask of their student: the segmentation task
    ``task``, its single output level ``levels = ('final',)`` (no intermediate head), ``forward_levels`` and
    ``level_losses``.

    ``forward_levels(inputs)`` gives ``{'final': seg logits, <other task>: its output, ...}`` (one forward of the
    backbone and every head): the segmentation output is the level that discriminators and segmentation KD
    read; the other tasks' outputs (depth, B×1×h×w) ride along under their task names for the losses.
    ``level_losses`` gives every head's ground-truth terms (``seg.*``, ``depth.*``) as :meth:`JointStudent.loss`.

    Args:
        seg_task (str): the segmentation head's task name. Defaults to ``'seg'``.
        **kwargs: :class:`JointStudent` arguments (``backbone``, ``heads``, ``neck``, ...).
    """

    def __init__(self, *args, seg_task: str = 'seg', **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if seg_task not in self.heads or self.task_kind(seg_task) != 'seg':
            raise ValueError(f'JointLevelStudent: seg_task {seg_task!r} is not a segmentation head of the student '
                             f'(heads: {self.task_names}); name its segmentation head')
        clash = [t for t in self.task_names if t in LEVELS]
        if clash:
            raise ValueError(f'JointLevelStudent: head name(s) {clash} are level names ({LEVELS}); rename them')
        self.task = seg_task
        self.aux_weight = 0.0  # no intermediate level

    @property
    def levels(self) -> Tuple[str, ...]:
        return LEVELS[-1:]

    def forward_levels(self, inputs: Tensor) -> Dict[str, Tensor]:
        """Images (B, 3, H, W) -> ``{'final': seg logits, <task>: output}``; sets ``shared_rep``."""
        feats = self.extract_feat(inputs)
        self.shared_rep = feats
        outs = self.forward_heads(feats)
        return {'final': outs[self.task], **{t: o for t, o in outs.items() if t != self.task}}

    def level_losses(self, levels: Dict[str, Tensor], data_samples: SampleList) -> Dict[str, Tensor]:
        """Every head's ground-truth terms from :meth:`forward_levels`' outputs (``seg.loss_ce``,
        ``depth.loss_l1``, ...)."""
        outs = {t: levels['final'] if t == self.task else levels[t] for t in self.task_names}
        return self.task_losses(outs, data_samples)


@MODELS.register_module()
class JointDAKD(DAKD):
    """DAKD for the joint student: segmentation adapted and distilled as :class:`DAKD` does, depth distilled
    from a depth teacher on the domains without depth labels.

    Per iteration, with a source batch carrying segmentation *and* depth labels and an unlabelled target batch:

    - ``seg.*``, ``depth.*``: the student's ground-truth terms on the source (:class:`JointLevelStudent`);
    - ``adv.*`` and the discriminator step: AdaptSegNet's, on the segmentation output (level ``final``);
    - ``kd.seg.<domain>.*``: DAKD's output-level terms from the (adapted) segmentation teacher, on the domains of
      ``paradigm``/``domains`` (default in the config: ``'output_target'``, KL and the pseudo-label CE on the
      target);
    - ``kd.<depth task>.<domain>.<loss>``: ``λ_depth · L(d̂_S, resize(d̂_T))`` against the depth teacher's
      prediction, on ``depth_domains`` (default the target only: the source has ground truth), as
      :class:`~jdbench.models.KDStatic`'s depth term (``DepthL1Loss`` by default).

    The target's labels, segmentation or depth, are never read. Objectives: the student's tasks (kind
    ``'task'``), ``adv`` (``'adapt'``), ``kd.seg`` and ``kd.<depth task>`` (``'distill'``), summed by the default
    ``EW`` (``balance='all'``); the teachers are frozen and unregistered as in every distiller;
    ``export_state_dict`` is the joint student's. ``test_teacher`` predicts with every teacher.

    Args:
        student (dict): a :class:`JointLevelStudent` config (the joint student's, ``type='JointLevelStudent'``).
        teachers (dict): ``{<seg task>: MultiLevelTeacher config, <depth task>: Teacher config}``: the
            segmentation teacher as :class:`DAKD`'s (e.g. the adapted teacher's AdaptSegNet config), one
            :class:`~jdbench.models.Teacher` per depth task of the student.
        depth_kd_loss (dict): the depth distillation loss. Defaults to ``dict(type='DepthL1Loss')``.
        lambda_depth (float): its weight λ_depth. Defaults to 1.0.
        depth_domains (sequence[str]): where depth is distilled: ``'target'`` (default) and/or ``'source'``.
        **kwargs: :class:`DAKD` arguments (``paradigm``, ``levels``, ``domains``, λs, ``discriminator``, ...).
    """

    def __init__(self,
                 student: ConfigType,
                 teachers: Dict[str, Optional[ConfigType]],
                 depth_kd_loss: ConfigType = dict(type='DepthL1Loss'),
                 lambda_depth: float = 1.0,
                 depth_domains: Sequence[str] = ('target', ),
                 weighting: OptConfigType = 'default',
                 **kwargs) -> None:
        seg_task = dict(student).get('seg_task', 'seg')
        teachers = {k: v for k, v in (teachers or {}).items() if v is not None}
        if seg_task not in teachers:
            raise ValueError(f'JointDAKD needs a segmentation teacher named after the student\'s seg task: '
                             f'teachers=dict({seg_task}=dict(type="MultiLevelTeacher", ...), depth=dict(type='
                             f'"Teacher", ...)), got teachers {list(teachers)}')
        others = {k: v for k, v in teachers.items() if k != seg_task}
        super().__init__(student, {seg_task: teachers[seg_task]}, weighting=None, **kwargs)
        if not all(hasattr(self.student, a) for a in ('task_names', 'task_kind')):
            raise TypeError(f'JointDAKD: the student must be the joint student (type="JointLevelStudent"), got '
                            f'{type(self.student).__name__}')
        bad = [d for d in depth_domains if d not in DOMAINS]
        if bad:
            raise ValueError(f'depth_domains {bad} unknown; the domains are {DOMAINS}')
        self.depth_domains = tuple(depth_domains)
        self.lambda_depth = float(lambda_depth)
        self.depth_tasks: List[str] = []
        for name, cfg in others.items():
            cfg = copy.deepcopy(dict(cfg))
            cfg.setdefault('type', 'Teacher')
            # the multi-teacher distillers' checks: a teacher teaches a task of the student, of its kind
            teacher = BaseDistiller._build_teacher(self, name, cfg)
            if teacher.kind != 'depth':
                raise ValueError(f'JointDAKD: teacher {name!r} must be a depth teacher (the segmentation teacher '
                                 f'is {seg_task!r}), got a {teacher.kind} model')
            self.teachers[name] = teacher
            self.depth_tasks.append(name)
        missing = [t for t in self.student.task_names if self.student.task_kind(t) == 'depth'
                   and t not in self.depth_tasks]
        if missing and 'target' in self.depth_domains:
            raise ValueError(f'JointDAKD: no teacher for the depth task(s) {missing}: on the target there is no '
                             f'other depth signal; add teachers.{missing[0]}=dict(type="Teacher", config=..., '
                             'checkpoint=...)')
        self.depth_kd_loss = MODELS.build(depth_kd_loss)
        if weighting is not None:
            self._build_weighting(weighting)

    # ----------------------------------------------------------------- objectives
    def objectives(self) -> List[Objective]:
        """The student's task objectives, ``adv``, ``kd.<seg task>`` and ``kd.<depth task>``."""
        objs = list(self.student.objectives())
        if self.discriminator is not None:
            objs.append(Objective('adv', 'adv.', ADAPT_KIND, None))
        if self._terms('source') or self._terms('target'):
            objs.append(Objective(f'kd.{self.task}', f'kd.{self.task}.', 'distill', self.task))
        if self.depth_domains and self.lambda_depth != 0:
            objs += distill_objectives(self.depth_tasks)
        return objs

    # ----------------------------------------------------------------- losses
    def stream_distill_losses(self, x_s: Tensor, x_t: Tensor, src: Dict[str, Tensor],
                              tgt: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """DAKD's segmentation terms, then the depth terms of each distilled domain."""
        losses = super().stream_distill_losses(x_s, x_t, src, tgt)
        if self.lambda_depth == 0:
            return losses
        for domain, x, student in (('source', x_s, src), ('target', x_t, tgt)):
            if domain not in self.depth_domains:
                continue
            for task in self.depth_tasks:
                pred = student[task]
                target = self.teachers[task](x).out.detach()
                if target.shape[2:] != pred.shape[2:]:
                    target = resize(target, size=pred.shape[2:], mode='bilinear', align_corners=False,
                                    warning=False)
                name = self.depth_kd_loss.loss_name
                losses[f'kd.{task}.{domain}.{name}'] = self.lambda_depth * self.depth_kd_loss(pred, target)
        return losses

    # ----------------------------------------------------------------- evaluation
    def predict(self, inputs: Tensor, data_samples: Optional[SampleList] = None) -> SampleList:
        """The joint student's predictions (every teacher's, each for its task, with ``test_teacher``)."""
        if not self.test_teacher:
            return self.student.predict(inputs, data_samples)
        if data_samples is None:
            shape = inputs.shape[2:]
            data_samples = [SegDataSample(metainfo=dict(img_shape=shape, ori_shape=shape))
                            for _ in range(inputs.shape[0])]
        for teacher in self.teachers.values():
            data_samples = teacher.predict(inputs, data_samples)
        return data_samples

