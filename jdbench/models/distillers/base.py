"""Base of the multi-teacher distillers: a trainable JointStudent plus frozen single-task teachers."""
import copy
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper
from mmseg.models.utils import resize
from mmseg.structures import SegDataSample
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, SampleList
from torch import Tensor

from jdbench.registry import MODELS
from ..objectives import Objective, distill_objectives
from ..teachers import Teacher, TeacherOutput


class BaseDistiller(BaseModel):
    """A joint student trained with ground truth and with knowledge from frozen teachers.

    The teachers are kept in a plain dict (:attr:`teachers`), not as registered sub-modules: they are not in
    the optimizer, not synchronised or wrapped by DDP, not in this model's ``state_dict`` (they load from
    their own checkpoints) and not touched by ``train()``/``init_weights()``; :meth:`_apply` moves them with
    the model.

    ``mode='loss'`` runs the student's backbone once and every teacher once (under no-grad), and returns the
    student's ground-truth terms (``seg.loss_ce``, ``depth.loss_l1``, ...) plus the method's terms from
    :meth:`distill_losses` (``kd.<teacher>.<term>``, ``conn.<task>.<term>``, ...). ``predict``/``val_step``/
    ``test_step`` evaluate the student alone (or the teachers with ``test_teachers=True``).
    :meth:`train_step` balances the objectives (:meth:`objectives`) with ``self.weighting`` through
    ``WeightedOptimWrapper.update_weighted`` (``optim_wrapper=dict(type='WeightedOptimWrapper', ...)``).

    Args:
        student (dict): the :class:`JointStudent` config (e.g. the model of ``configs/baselines/mtl_*.py``),
            kept whole so that the exported student's ``state_dict`` loads into that plain config.
        teachers (dict[str, dict]): student task -> :class:`Teacher` config (a ``None`` entry drops a
            teacher). A teacher is named after the task it teaches.
        weighting (dict, optional): strategy from ``WEIGHTINGS``, usually ``balance='distill'``; ``None`` sums
            the terms.
        test_teachers (bool): ``predict`` gives the teachers' predictions (their own scores under the same
            metric) instead of the student's. Defaults to False.
        data_preprocessor (dict, optional): defaults to the student's.
    """

    def __init__(self,
                 student: ConfigType,
                 teachers: Dict[str, Optional[ConfigType]],
                 weighting: OptConfigType = None,
                 test_teachers: bool = False,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        student = copy.deepcopy(dict(student))
        if data_preprocessor is None:
            data_preprocessor = student.get('data_preprocessor')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.student_cfg = student
        self.student = MODELS.build(student)
        self.test_teachers = test_teachers
        # a plain dict: teachers are deliberately not registered sub-modules (see the class docstring)
        self.teachers: Dict[str, Teacher] = {}
        for name, cfg in teachers.items():
            if cfg is not None:
                self.teachers[name] = self._build_teacher(name, cfg)
        if not self.teachers:
            raise ValueError('a distiller needs at least one teacher, e.g. teachers=dict(seg=..., depth=...)')
        self.weighting = None
        if weighting is not None:
            from jdbench.weighting import build_weighting
            self.weighting = build_weighting(weighting, objectives=self.objectives())

    # ----------------------------------------------------------------- teachers
    def _build_teacher(self, name: str, cfg: ConfigType) -> Teacher:
        cfg = copy.deepcopy(dict(cfg))
        cfg.setdefault('type', 'Teacher')
        if name not in self.student.task_names:
            raise ValueError(f'teacher {name!r} teaches no task of the student; teachers are named after the '
                             f'student task they teach: {self.student.task_names}')
        teacher = MODELS.build(cfg)
        src = teacher.config_path or 'its config'
        kind = self.student.task_kind(name)
        if teacher.kind != kind:
            raise ValueError(f'teacher {name!r} ({src}) is a {teacher.kind} model, but the student\'s '
                             f'{name!r} head is a {kind} head; give the {name!r} teacher a {kind} config')
        if kind == 'seg' and teacher.num_classes != self.student.num_classes[name]:
            raise ValueError(f'class-count mismatch: teacher {name!r} ({src}) predicts {teacher.num_classes} '
                             f'classes, the student\'s {name!r} head {self.student.num_classes[name]}; use a '
                             'teacher trained on the same label set (dataset label_set) as the student')
        teacher.match_input_normalization(self.data_preprocessor)
        return teacher

    @property
    def teacher_names(self) -> List[str]:
        return list(self.teachers)

    def run_teachers(self, inputs: Tensor) -> Dict[str, TeacherOutput]:
        """Every teacher once, under no-grad: ``{name: TeacherOutput(out, feats)}``."""
        return {name: teacher(inputs) for name, teacher in self.teachers.items()}

    def _apply(self, fn, *args, **kwargs):
        """Device/dtype moves (``to``, ``cuda``, ``half``, ...) also reach the unregistered teachers."""
        super()._apply(fn, *args, **kwargs)
        for teacher in getattr(self, 'teachers', {}).values():
            teacher._apply(fn, *args, **kwargs)
        return self

    # ----------------------------------------------------------------- what the weighted update asks for
    def objectives(self) -> List[Objective]:
        """The student's task objectives, then one ``'distill'`` objective ``kd.<teacher>`` per teacher
        (keys ``'kd.<teacher>.*'``, scored by the teacher's task)."""
        return self.student.objectives() + distill_objectives(self.teacher_names)

    def shared_modules(self) -> List[nn.Module]:
        """The student's shared modules (gradient strategies)."""
        return self.student.shared_modules()

    @property
    def shared_rep(self) -> Optional[Tuple[Tensor, ...]]:
        """The student's shared features of the last loss forward (``rep_grad=True``)."""
        return self.student.shared_rep

    # ----------------------------------------------------------------- helpers for the methods
    def _student_feature_shapes(self, size: Tuple[int, int] = (64, 64)) -> List[Tuple[int, ...]]:
        """(C, h, w) of each shared student feature level for one zero image (eval mode: no BN update)."""
        was_training = self.student.training
        self.student.eval()
        try:
            with torch.no_grad():
                feats = self.student.extract_feat(torch.zeros(1, 3, *size))
        finally:
            self.student.train(was_training)
        return [tuple(f.shape[1:]) for f in feats]

    @staticmethod
    def _resize_to(x: Tensor, ref: Tensor) -> Tensor:
        """Bilinear resize of ``x`` to ``ref``'s spatial size (no-op when equal)."""
        if x.shape[2:] == ref.shape[2:]:
            return x
        return resize(x, size=ref.shape[2:], mode='bilinear', align_corners=False, warning=False)

    # ----------------------------------------------------------------- modes
    def forward(self, inputs: Tensor, data_samples: Optional[SampleList] = None,
                mode: str = 'tensor') -> Union[Dict[str, Tensor], SampleList]:
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.student._forward(inputs)
        raise RuntimeError(f'invalid mode {mode!r}; use "loss", "predict" or "tensor"')

    def loss(self, inputs: Tensor, data_samples: SampleList) -> Dict[str, Tensor]:
        """One student forward, one forward per teacher -> ground-truth and distillation terms."""
        feats = self.student.extract_feat(inputs)
        self.student.shared_rep = feats
        outs = self.student.forward_heads(feats)
        losses = self.student.task_losses(outs, data_samples)
        losses.update(self.distill_losses(inputs, data_samples, feats, outs, self.run_teachers(inputs)))
        return losses

    def distill_losses(self, inputs: Tensor, data_samples: SampleList, feats: Tuple[Tensor, ...],
                       outs: Dict[str, Tensor], teacher_outs: Dict[str, TeacherOutput]) -> Dict[str, Tensor]:
        """The method's terms, from the student's shared features/outputs and the teachers' outputs."""
        raise NotImplementedError

    def predict(self, inputs: Tensor, data_samples: Optional[SampleList] = None) -> SampleList:
        """The student's predictions (the teachers' with ``test_teachers``), as the plain student's."""
        if self.test_teachers:
            return self.predict_teachers(inputs, data_samples)
        return self.student.predict(inputs, data_samples)

    def predict_teachers(self, inputs: Tensor, data_samples: Optional[SampleList] = None) -> SampleList:
        """Each teacher's prediction for its task, filled in the same samples (scored by ``JointMetric``)."""
        if data_samples is None:
            shape = inputs.shape[2:]
            data_samples = [SegDataSample(metainfo=dict(img_shape=shape, ori_shape=shape))
                            for _ in range(inputs.shape[0])]
        for teacher in self.teachers.values():
            data_samples = teacher.predict(inputs, data_samples)
        return data_samples

    def train_step(self, data: Union[dict, tuple, list], optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        """Pre-process, forward in ``loss`` mode, balance the terms with ``self.weighting`` and step."""
        from jdbench.engine.optimizers import weighted_train_step
        return weighted_train_step(self, data, optim_wrapper)

    # ----------------------------------------------------------------- export
    def export_state_dict(self) -> Dict[str, Tensor]:
        """The deployable result: the student's own ``state_dict`` (keys as in the plain student model)."""
        return self.student.state_dict()
