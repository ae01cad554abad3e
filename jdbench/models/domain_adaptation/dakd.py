"""Domain Adaptive Knowledge Distillation (Kothandaraman, Nambiar, Mittal; WACV-W 2021, arXiv 2011.08007)."""
import copy
from typing import Dict, List, Optional, Sequence, Tuple

import torch.nn.functional as F
from mmseg.models.utils import resize
from mmseg.structures import SegDataSample
from mmseg.utils import ConfigType, OptConfigType, SampleList
from torch import Tensor

from jdbench.registry import MODELS
from ..objectives import Objective
from .adaptsegnet import RESOLUTIONS, AdaptSegNet
from .teacher import MultiLevelTeacher

#: paradigm -> (distillation levels, domains): the 2×2 of DAKD's network figure (a hypothesis, see
#: docs/methods.md)
PARADIGMS = {
    'feature_source': (('feature', ), ('source', )),
    'feature_target': (('feature', ), ('target', )),
    'output_source': (('output', ), ('source', )),
    'output_target': (('output', ), ('target', )),
}
DISTILL_LEVELS = ('feature', 'output')
DOMAINS = ('source', 'target')
#: the student/teacher level each distillation level reads
LEVEL_OF = dict(feature='aux', output='final')


@MODELS.register_module()
class DAKD(AdaptSegNet):
    """A compact multi-level student adapted to the target domain (AdaptSegNet's terms) and distilled from a
    frozen, larger teacher (usually itself adapted with AdaptSegNet) on both domains.

    With the student's and teacher's levels at the working resolution (aux ``S¹, T¹``, final ``S², T²``,
    logits), ``w_source = 1`` and ``w_target = τ`` (``target_distill``), each distilled domain ``d`` adds

    - level ``'feature'`` (the intermediate level): ``w_d·λ_KL·λ_seg·KL(S¹, T¹)`` (``loss_kl_aux``) and
      ``w_d·λ_MSE·MSE(S¹, T¹)`` (``loss_mse_aux``, on log-probabilities);
    - level ``'output'`` (the final level): ``w_d·λ_KL·KL(S², T²)`` (``loss_kl``) and
      ``w_d·λ_tCE·CE(S², argmax_c T²)`` (``loss_pseudo_ce``: the teacher's pseudo-labels),

    under the keys ``kd.<task>.<domain>.<term>`` (objective ``kd.<task>``, kind ``'distill'``), beside
    AdaptSegNet's ``<task>.*`` (source ground truth) and ``adv.*`` (target adversarial) terms and the
    discriminator step. With every level and domain on (the default) this is the official code's
    ``train_gta2cs_ts_multi.py``; a term whose λ is 0 is not computed. The default weighting ``EW``
    (``balance='all'``) sums the objectives; any strategy can balance ``seg``, ``adv`` and ``kd.<task>``.

    The teacher is kept out of the registered sub-modules (not in the optimizer, not in checkpoints, eval mode
    for good, moved by ``_apply``), as in every jdbench distiller; only the domains that are distilled run it.
    ``export_state_dict`` is the student's.

    Args:
        student (dict): the :class:`MultiLevelSegmentor` config.
        teachers (dict): ``{<student task>: teacher config}``, one :class:`MultiLevelTeacher` (the default
            ``type``): ``config`` (the teacher's training config, e.g. the adapted teacher's AdaptSegNet
            config) and ``checkpoint`` (its ``final.pth``).
        paradigm (str, optional): one of ``'feature_source'``, ``'feature_target'``, ``'output_source'``,
            ``'output_target'``: sets ``levels`` and ``domains`` to that one combination. ``None`` (default):
            ``levels`` and ``domains`` as given.
        levels (sequence[str], optional): distillation levels, ``'feature'`` and/or ``'output'``; ``None``:
            both (the official code).
        domains (sequence[str], optional): distilled domains, ``'source'`` and/or ``'target'``; ``None``: both.
        lambda_kl (float): λ_KL. Defaults to 0.1.
        lambda_mse (float): λ_MSE. Defaults to 0.01.
        lambda_target_ce (float): λ_tCE, the pseudo-label cross-entropy. Defaults to 1.0.
        lambda_seg (float, optional): λ_seg of the intermediate level's KL; ``None`` (default): the student's
            ``aux_weight`` (0.1; the code uses one λ_seg for both).
        target_distill (float): τ, the weight of the target domain's distillation terms. Defaults to 1.0.
        kl_loss, mse_loss, pseudo_loss (dict): the three terms (``DAKDKLLoss`` with ``mode='true'`` by default;
            ``mode='code'`` computes the official code's ``KLDivLoss`` call, ``DAKDMSELoss``,
            ``PseudoLabelCELoss``).
        test_teacher (bool): ``predict`` gives the teacher's predictions instead of the student's.
        distill_resolution (str, optional): where the distillation terms are computed: ``'input'`` upsamples
            both networks' logits to the input size (the code: DRN upsamples ×8 inside the network),
            ``'output'`` resizes the teacher's to the student's level size (a cheaper configured variant,
            docs/methods.md). ``None`` (default): ``resolution``.
        **kwargs: :class:`AdaptSegNet` arguments (``discriminator``, ``lambda_adv``, ``gan``, ``resolution``,
            ``weighting``, ``data_preprocessor``).
    """

    def __init__(self,
                 student: ConfigType,
                 teachers: Dict[str, Optional[ConfigType]],
                 paradigm: Optional[str] = None,
                 levels: Optional[Sequence[str]] = None,
                 domains: Optional[Sequence[str]] = None,
                 lambda_kl: float = 0.1,
                 lambda_mse: float = 0.01,
                 lambda_target_ce: float = 1.0,
                 lambda_seg: Optional[float] = None,
                 target_distill: float = 1.0,
                 kl_loss: ConfigType = dict(type='DAKDKLLoss', mode='true'),
                 mse_loss: ConfigType = dict(type='DAKDMSELoss', space='log_prob'),
                 pseudo_loss: ConfigType = dict(type='PseudoLabelCELoss'),
                 test_teacher: bool = False,
                 distill_resolution: Optional[str] = None,
                 weighting: OptConfigType = 'default',
                 **kwargs) -> None:
        super().__init__(student, weighting=None, **kwargs)
        if distill_resolution not in (None, *RESOLUTIONS):
            raise ValueError(f'distill_resolution must be None or one of {RESOLUTIONS}, got '
                             f'{distill_resolution!r}')
        self.distill_resolution = distill_resolution or self.resolution
        self.levels_kd, self.domains = self._switches(paradigm, levels, domains)
        self.paradigm = paradigm
        self.lambda_kl, self.lambda_mse = float(lambda_kl), float(lambda_mse)
        self.lambda_target_ce = float(lambda_target_ce)
        self.lambda_seg = float(self.student.aux_weight if lambda_seg is None else lambda_seg)
        self.target_distill = float(target_distill)
        self.kl_loss, self.mse_loss = MODELS.build(kl_loss), MODELS.build(mse_loss)
        self.pseudo_loss = MODELS.build(pseudo_loss)
        self.test_teacher = test_teacher
        # a plain dict: the teacher is deliberately not a registered sub-module (see the class docstring)
        self.teachers: Dict[str, MultiLevelTeacher] = {}
        teachers = {k: v for k, v in (teachers or {}).items() if v is not None}
        if list(teachers) != [self.task]:
            raise ValueError(f'DAKD distils one segmentation teacher named after the student task: '
                             f'teachers=dict({self.task}=dict(type="MultiLevelTeacher", config=..., '
                             f'checkpoint=...)), got teachers {list(teachers)}')
        self.teachers[self.task] = self._build_teacher(teachers[self.task])
        self._check_levels()
        if weighting is not None:
            self._build_weighting(weighting)

    # ----------------------------------------------------------------- construction
    @staticmethod
    def _switches(paradigm: Optional[str], levels: Optional[Sequence[str]],
                  domains: Optional[Sequence[str]]) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        if paradigm is not None:
            if paradigm not in PARADIGMS:
                raise ValueError(f'unknown paradigm {paradigm!r}; the paradigms are {list(PARADIGMS)} (or '
                                 'paradigm=None with levels=... and domains=...)')
            if levels is not None or domains is not None:
                raise ValueError(f'paradigm={paradigm!r} sets levels and domains; give either the paradigm or '
                                 'levels/domains, not both')
            return PARADIGMS[paradigm]
        levels = tuple(DISTILL_LEVELS if levels is None else levels)
        domains = tuple(DOMAINS if domains is None else domains)
        bad = [v for v in levels if v not in DISTILL_LEVELS] + [v for v in domains if v not in DOMAINS]
        if bad:
            raise ValueError(f'unknown distillation level/domain {bad}: levels are {DISTILL_LEVELS}, domains '
                             f'{DOMAINS}')
        return levels, domains

    def _build_teacher(self, cfg: ConfigType) -> MultiLevelTeacher:
        cfg = copy.deepcopy(dict(cfg))
        cfg.setdefault('type', 'MultiLevelTeacher')
        teacher = MODELS.build(cfg)
        if not hasattr(teacher, 'forward_levels'):
            raise TypeError(f'DAKD needs a MultiLevelTeacher, got {type(teacher).__name__}')
        src = teacher.config_path or 'its config'
        n_student = self.student.num_classes[self.task]
        if teacher.num_classes != n_student:
            raise ValueError(f'class-count mismatch: the teacher ({src}) predicts {teacher.num_classes} '
                             f'classes, the student {n_student}; use a teacher trained on the same label set '
                             '(dataset classes) as the student')
        aux = getattr(teacher.model, 'aux_head', None)
        if aux is not None and aux.num_classes != n_student:
            raise ValueError(f'class-count mismatch: the teacher\'s aux_head ({src}) predicts {aux.num_classes} '
                             f'classes, the student {n_student}')
        teacher.match_input_normalization(self.data_preprocessor)
        return teacher

    def _check_levels(self) -> None:
        teacher = self.teachers[self.task]
        for level in self.levels_kd:
            need = LEVEL_OF[level]
            for who, have in (('student', self.student.levels), ('teacher', teacher.levels)):
                if need not in have:
                    raise ValueError(
                        f'distillation level {level!r} reads the {need!r} output, which the {who} does not give '
                        f'(its levels: {have}); give the {who} an aux_head (MultiLevelSegmentor) or distil '
                        "levels=('output',) only")

    def _terms(self, domain: str) -> List[Tuple[str, str, float]]:
        """(term name, level, weight) of one domain's distillation terms with a non-zero weight."""
        w = 1.0 if domain == 'source' else self.target_distill
        if domain not in self.domains or w == 0:
            return []
        terms = []
        if 'feature' in self.levels_kd:
            terms += [('loss_kl_aux', 'aux', w * self.lambda_kl * self.lambda_seg),
                      ('loss_mse_aux', 'aux', w * self.lambda_mse)]
        if 'output' in self.levels_kd:
            terms += [('loss_kl', 'final', w * self.lambda_kl),
                      ('loss_pseudo_ce', 'final', w * self.lambda_target_ce)]
        return [t for t in terms if t[2] != 0]

    # ----------------------------------------------------------------- teachers
    def _apply(self, fn, *args, **kwargs):
        """Device/dtype moves (``to``, ``cuda``, ``half``, ...) also reach the unregistered teacher."""
        super()._apply(fn, *args, **kwargs)
        for teacher in getattr(self, 'teachers', {}).values():
            teacher._apply(fn, *args, **kwargs)
        return self

    @property
    def teacher(self) -> MultiLevelTeacher:
        return self.teachers[self.task]

    # ----------------------------------------------------------------- objectives
    def objectives(self) -> List[Objective]:
        """AdaptSegNet's objectives plus ``kd.<task>`` (kind ``'distill'``, scored by the task) when a
        distillation term is on."""
        objs = super().objectives()
        if getattr(self, 'teachers', None) and (self._terms('source') or self._terms('target')):
            objs.append(Objective(f'kd.{self.task}', f'kd.{self.task}.', 'distill', self.task))
        return objs

    # ----------------------------------------------------------------- losses
    def extra_losses(self, x_s: Tensor, x_t: Tensor, src: Dict[str, Tensor], tgt: Dict[str, Tensor],
                     raw: Tuple[Dict[str, Tensor], Dict[str, Tensor]]) -> Dict[str, Tensor]:
        """The distillation terms of each distilled domain (the teacher runs once per distilled domain), at the
        working resolution or, with ``distill_resolution='output'``, at each student head's own."""
        return self.stream_distill_losses(x_s, x_t, self.distill_levels(x_s, src, raw[0]),
                                          self.distill_levels(x_t, tgt, raw[1]))

    def stream_distill_losses(self, x_s: Tensor, x_t: Tensor, src: Dict[str, Tensor],
                              tgt: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """The distillation terms of both streams from the student's outputs at ``distill_resolution``."""
        losses = {}
        for domain, x, student in (('source', x_s, src), ('target', x_t, tgt)):
            terms = self._terms(domain)
            if terms:
                losses.update(self.distill_losses(domain, student, self.teacher.forward_levels(x), terms))
        return losses

    def distill_levels(self, x: Tensor, working: Dict[str, Tensor], raw: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """A stream's student level outputs at ``distill_resolution``: the working-resolution ones when it is
        ``resolution``, else each head's own (``'output'``) or upsampled to the input (``'input'``)."""
        if self.distill_resolution == self.resolution:
            return working
        if self.distill_resolution == 'output':
            return raw
        return {level: v if v.shape[2:] == x.shape[2:] else
                resize(v, size=x.shape[2:], mode='bilinear', align_corners=False, warning=False)
                for level, v in raw.items()}

    def distill_losses(self, domain: str, student: Dict[str, Tensor], teacher: Dict[str, Tensor],
                       terms: List[Tuple[str, str, float]]) -> Dict[str, Tensor]:
        """``kd.<task>.<domain>.<term>`` for the given (term, level, weight) list, from the student's level
        logits at the working resolution and the teacher's (resized to them bilinearly). Each level's
        log-probabilities are computed once and shared by the terms that take them."""
        fns = dict(loss_kl_aux=self.kl_loss, loss_kl=self.kl_loss, loss_mse_aux=self.mse_loss,
                   loss_pseudo_ce=self.pseudo_loss)
        out = {}
        for level in dict.fromkeys(level for _, level, _ in terms):
            s, t = student[level], teacher[level]
            if t.shape[2:] != s.shape[2:]:
                t = resize(t, size=s.shape[2:], mode='bilinear', align_corners=False, warning=False)
            log_probs = None
            for name, lvl, weight in terms:
                if lvl != level:
                    continue
                fn = fns[name]
                if getattr(fn, 'takes_log_probs', False):
                    if log_probs is None:
                        log_probs = (F.log_softmax(s.float(), dim=1), F.log_softmax(t.float(), dim=1))
                    value = fn.from_log_probs(*log_probs, teacher=t)
                else:
                    value = fn(s, t)
                out[f'kd.{self.task}.{domain}.{name}'] = weight * value
        return out

    # ----------------------------------------------------------------- evaluation
    def predict(self, inputs: Tensor, data_samples: Optional[SampleList] = None) -> SampleList:
        """The student's prediction (the teacher's with ``test_teacher``)."""
        if not self.test_teacher:
            return self.student.predict(inputs, data_samples)
        if data_samples is None:
            shape = inputs.shape[2:]
            data_samples = [SegDataSample(metainfo=dict(img_shape=shape, ori_shape=shape))
                            for _ in range(inputs.shape[0])]
        return self.teacher.predict(inputs, data_samples)
