"""AdaptSegNet: output-space adversarial adaptation of a multi-level segmentor (Tsai et al., CVPR 2018)."""
import copy
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmseg.models.utils import resize
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, SampleList
from torch import Tensor

from jdbench.registry import MODELS
from ..objectives import Objective
from .discriminator import SOURCE_LABEL, TARGET_LABEL, AdversarialLoss
from .segmentor import LEVELS

RESOLUTIONS = ('input', 'output')
STREAMS = ('source', 'target')
#: AdaptSegNet's multi-level generator weights (λ_adv1, λ_adv2)
DEFAULT_LAMBDA_ADV = dict(aux=0.0002, final=0.001)
#: the objective kind of the adversarial terms: balanced only by a strategy with ``balance='all'``
ADAPT_KIND = 'adapt'


@MODELS.register_module()
class AdaptSegNet(BaseModel):
    """A multi-level segmentor trained on a labelled source stream and adapted to an unlabelled target stream.

    Per iteration, with source images ``x_s`` (labels ``y_s``), target images ``x_t`` and the student's levels
    ``P^l`` (softmax of the level's logits at the input resolution):

    - ``seg``: ``CE(final(x_s), y_s) + λ_seg · CE(aux(x_s), y_s)`` (the student's :meth:`level_losses`;
      λ_seg = ``student.aux_weight``, 0.1);
    - ``adv``: ``Σ_l λ_adv^l · L_gan(D_l(P^l(x_t)), source=0)``: the student learns to make target outputs look
      like source outputs (λ_adv 0.0002 aux, 0.001 final), with the discriminators frozen;
    - the discriminator step: ``Σ_l [L_gan(D_l(P^l(x_s)), 0) + L_gan(D_l(P^l(x_t)), 1)] / 2`` on detached
      outputs, with its own optimizer.

    The target stream's labels are never read. ``objectives()``: ``seg`` (kind ``'task'``) and ``adv`` (kind
    ``'adapt'``: balanced by a strategy with ``balance='all'``); the default ``EW`` sums them, which is
    AdaptSegNet's loss. ``predict``/``tensor`` run the student alone; ``export_state_dict`` is the student's.

    Training needs a ``MultiStreamDataset`` with streams ``source`` and ``target``, a
    ``MultiStreamDataPreProcessor`` (the default: the student's pre-processor wrapped) and::

        optim_wrapper = dict(constructor='MultiOptimWrapperConstructor',
                             student=dict(type='WeightedOptimWrapper', modules='*', optimizer=...),
                             discriminator=dict(type='OptimWrapper', optimizer=dict(type='Adam', ...)))

    Args:
        student (dict): a :class:`MultiLevelSegmentor` config, the network being adapted (named ``student`` also
            when it is a teacher being adapted), kept whole so that the exported ``state_dict`` loads into that
            plain model.
        discriminator (dict[str, dict | None], optional): level -> discriminator config (``in_channels`` is set
            to the class count); only the non-``None`` entries are built (a child config drops an inherited
            level with ``discriminator=dict(aux=None)``). Defaults to an :class:`FCDiscriminator` on every level
            of the student. ``None`` or ``{}``: no adaptation (the student's own training).
        lambda_adv (dict[str, float]): λ_adv per level. Defaults to ``dict(aux=0.0002, final=0.001)``;
            weights of levels without a discriminator are unused.
        gan (str): ``'vanilla'`` (BCE with logits, default) or ``'lsgan'`` (least squares).
        resolution (str): where the student's logits are turned into the discriminators' probabilities:
            ``'input'`` (default: upsampled bilinearly to the batch's input size first, as AdaptSegNet and DAKD)
            or ``'output'`` (at each head's own resolution; cheaper).
        weighting (dict, optional): strategy over ``seg`` and ``adv`` (``WEIGHTINGS``), applied by the
            student's ``WeightedOptimWrapper``. Defaults to ``dict(type='EW', balance='all')``; ``None`` sums the
            terms (mmengine's ``parse_losses``) under any optimizer wrapper.
        data_preprocessor (dict, optional): defaults to the student's; any pre-processor other than a
            ``MultiStreamDataPreProcessor`` is wrapped in one (plain validation batches pass through it unchanged).
    """

    def __init__(self,
                 student: ConfigType,
                 discriminator: Optional[Dict[str, Optional[dict]]] = 'default',
                 lambda_adv: Optional[Dict[str, float]] = None,
                 gan: str = 'vanilla',
                 resolution: str = 'input',
                 weighting: OptConfigType = 'default',
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        student = copy.deepcopy(dict(student))
        if data_preprocessor is None:
            inner = student.get('data_preprocessor')
            if inner is None:
                raise ValueError(f'{type(self).__name__}: give data_preprocessor=dict(type='
                                 "'MultiStreamDataPreProcessor', preprocessor=...) or a student with a "
                                 'data_preprocessor')
            data_preprocessor = inner
        if isinstance(data_preprocessor, dict) and \
                str(data_preprocessor.get('type', '')).split('.')[-1] != 'MultiStreamDataPreProcessor':
            # (mmengine's Runner also injects a config's top-level data_preprocessor here)
            data_preprocessor = dict(type='MultiStreamDataPreProcessor', preprocessor=data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if resolution not in RESOLUTIONS:
            raise ValueError(f'resolution must be one of {RESOLUTIONS}, got {resolution!r}')
        self.student_cfg = student
        self.student = MODELS.build(student)
        if not all(hasattr(self.student, a) for a in ('forward_levels', 'level_losses', 'levels')):
            raise TypeError(f'{type(self).__name__}: the student must be a multi-level segmentor '
                            f"(type='MultiLevelSegmentor'), got {type(self.student).__name__}")
        self.resolution = resolution
        self.adv_loss = AdversarialLoss(gan)
        self.discriminator = self._build_discriminators(discriminator)
        self.lambda_adv = self._check_lambda_adv(lambda_adv)
        self._disc_inputs: Optional[Tuple[Dict[str, Tensor], Dict[str, Tensor]]] = None
        self.weighting = None
        if weighting is not None:
            self._build_weighting(weighting)

    # ----------------------------------------------------------------- construction
    def _build_weighting(self, weighting: Union[str, dict]) -> None:
        from jdbench.weighting import build_weighting
        cfg = dict(type='EW', balance='all') if weighting == 'default' else weighting
        self.weighting = build_weighting(cfg, objectives=self.objectives())

    def _build_discriminators(self, cfgs) -> Optional[nn.ModuleDict]:
        levels = self.student.levels
        if cfgs == 'default':
            cfgs = {level: dict(type='FCDiscriminator') for level in levels}
        cfgs = {k: v for k, v in (cfgs or {}).items() if v is not None}
        unknown = [k for k in cfgs if k not in levels]
        if unknown:
            raise ValueError(
                f'discriminator for level(s) {unknown}, which the student does not output: '
                f'{type(self.student).__name__} gives levels {levels} (aux: the intermediate head, needs '
                f'student.aux_head; final: the last head). Name each discriminator after one of them, or drop '
                'it with None')
        if not cfgs:
            return None
        num_classes = self.student.num_classes[self.student.task]
        mods = {}
        for level, cfg in cfgs.items():
            cfg = copy.deepcopy(dict(cfg))
            cfg.setdefault('in_channels', num_classes)
            mods[level] = MODELS.build(cfg)
        return nn.ModuleDict(mods)

    def _check_lambda_adv(self, lambda_adv: Optional[Dict[str, float]]) -> Dict[str, float]:
        lambda_adv = dict(DEFAULT_LAMBDA_ADV if lambda_adv is None else lambda_adv)
        unknown = [k for k in lambda_adv if k not in LEVELS]
        if unknown:
            raise ValueError(f'lambda_adv has weights for unknown level(s) {unknown}; the levels are {LEVELS}')
        missing = [k for k in (self.discriminator or {}) if k not in lambda_adv]
        if missing:
            raise ValueError(f'lambda_adv has no weight for the discriminator level(s) {missing}; give '
                             f'lambda_adv=dict({", ".join(f"{k}=..." for k in missing)})')
        return {k: float(v) for k, v in lambda_adv.items()}

    # ----------------------------------------------------------------- what the weighted update asks for
    @property
    def task(self) -> str:
        return self.student.task

    def objectives(self) -> List[Objective]:
        """``<task>`` (source ground truth, kind ``'task'``) and, with discriminators, ``adv`` (kind
        ``'adapt'``, not scored)."""
        objs = [Objective(self.task, f'{self.task}.', 'task', self.task)]
        if self.discriminator is not None:
            objs.append(Objective('adv', 'adv.', ADAPT_KIND, None))
        return objs

    def shared_modules(self) -> List[nn.Module]:
        """The student's backbone (and neck): what gradient strategies manipulate."""
        return self.student.shared_modules()

    @property
    def shared_rep(self) -> None:
        """No single shared representation: the source and target streams go through the student separately,
        so representation-gradient strategies (``rep_grad=True``) do not apply."""
        return None

    # ----------------------------------------------------------------- helpers
    def _at_resolution(self, logits: Tensor, inputs: Tensor) -> Tensor:
        """A level's logits at the working resolution (the input size with ``resolution='input'``)."""
        if self.resolution == 'output' or logits.shape[2:] == inputs.shape[2:]:
            return logits
        return resize(logits, size=inputs.shape[2:], mode='bilinear', align_corners=False, warning=False)

    # ----------------------------------------------------------------- modes
    def forward(self, inputs: Optional[Tensor] = None, data_samples: Optional[SampleList] = None,
                mode: str = 'tensor', **streams) -> Union[Dict[str, Tensor], SampleList]:
        if mode == 'loss':
            if set(streams) != set(STREAMS):
                got = sorted(streams) if streams else 'a plain batch (inputs, data_samples)'
                raise ValueError(
                    f'{type(self).__name__} trains on a labelled source and an unlabelled target stream: '
                    'train_dataloader.dataset must be a MultiStreamDataset with streams=dict(source=..., '
                    "target=...) and the model's data_preprocessor a MultiStreamDataPreProcessor; got "
                    f'{got}')
            return self.loss(streams['source'], streams['target'])
        if streams:
            raise ValueError(f'mode {mode!r} takes a plain batch (inputs, data_samples), got streams '
                             f'{sorted(streams)}')
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.student._forward(inputs)
        raise RuntimeError(f'invalid mode {mode!r}; use "loss", "predict" or "tensor"')

    def loss(self, source: dict, target: dict) -> Dict[str, Tensor]:
        """Source ground-truth terms, the generator's adversarial terms on the target stream (and the
        subclass's terms). Only ``target['inputs']`` is read from the target stream."""
        x_s, x_t = source['inputs'], target['inputs']
        raw_s = self.student.forward_levels(x_s)
        losses = self.student.level_losses(raw_s, source['data_samples'])
        raw_t = self.student.forward_levels(x_t)
        self.student.shared_rep = None      # (no reference kept to the graph)
        # each level's logits at the working resolution, once per stream (the adversarial and the subclass's
        # terms share them)
        src = {level: self._at_resolution(v, x_s) for level, v in raw_s.items()}
        tgt = {level: self._at_resolution(v, x_t) for level, v in raw_t.items()}
        losses.update(self.adversarial_losses(src, tgt))
        losses.update(self.extra_losses(x_s, x_t, src, tgt, raw=(raw_s, raw_t)))
        return losses

    def extra_losses(self, x_s: Tensor, x_t: Tensor, src: Dict[str, Tensor], tgt: Dict[str, Tensor],
                     raw: Tuple[Dict[str, Tensor], Dict[str, Tensor]]) -> Dict[str, Tensor]:
        """Terms a subclass adds (DAKD: distillation), from both streams' images and the student's level
        logits at the working resolution (``src``, ``tgt``) and at each head's own (``raw``: source, target)."""
        return {}

    def adversarial_losses(self, src: Dict[str, Tensor], tgt: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """``adv.loss_<level>`` = λ_adv^l · L_gan(D_l(P^l(x_t)), 0) with the discriminators frozen, from the
        level logits at the working resolution; keeps the detached probabilities of both streams for
        :meth:`discriminator_losses`."""
        if self.discriminator is None:
            self._disc_inputs = None
            return {}
        probs_s, probs_t, losses = {}, {}, {}
        flags = [p.requires_grad for p in self.discriminator.parameters()]
        self.discriminator.requires_grad_(False)     # the generator's step must not reach them
        try:
            for level, disc in self.discriminator.items():
                p_t = F.softmax(tgt[level].float(), dim=1)
                losses[f'adv.loss_{level}'] = self.lambda_adv[level] * self.adv_loss(disc(p_t), SOURCE_LABEL)
                probs_t[level] = p_t.detach()
                with torch.no_grad():
                    probs_s[level] = F.softmax(src[level].detach().float(), dim=1)
        finally:
            for p, flag in zip(self.discriminator.parameters(), flags):
                p.requires_grad_(flag)
        self._disc_inputs = (probs_s, probs_t)
        return losses

    def discriminator_losses(self) -> Dict[str, Tensor]:
        """``disc.loss_<level>`` = [L_gan(D_l(P_s), 0) + L_gan(D_l(P_t), 1)] / 2 on the outputs of the last
        :meth:`loss` (detached: this step trains the discriminators only)."""
        if self._disc_inputs is None:
            raise RuntimeError('discriminator_losses() needs the outputs of a loss() forward first')
        probs_s, probs_t = self._disc_inputs
        return {f'disc.loss_{level}': 0.5 * (self.adv_loss(disc(probs_s[level]), SOURCE_LABEL) +
                                             self.adv_loss(disc(probs_t[level]), TARGET_LABEL))
                for level, disc in self.discriminator.items()}

    def predict(self, inputs: Tensor, data_samples: Optional[SampleList] = None) -> SampleList:
        """The student's prediction (final head), as the plain student's."""
        return self.student.predict(inputs, data_samples)

    # ----------------------------------------------------------------- training
    def _wrappers(self, optim_wrapper) -> Tuple[OptimWrapper, Optional[OptimWrapper]]:
        need = ['student'] + (['discriminator'] if self.discriminator is not None else [])
        example = ("optim_wrapper=dict(constructor='MultiOptimWrapperConstructor', student=dict(type="
                   "'WeightedOptimWrapper', modules='*', optimizer=...), discriminator=dict(type='OptimWrapper', "
                   "optimizer=dict(type='Adam', ...)))")
        if isinstance(optim_wrapper, OptimWrapperDict):
            keys = list(optim_wrapper.keys())
            if sorted(keys) != sorted(need):
                raise KeyError(f'{type(self).__name__} needs the optimizer entries {need}, got {keys}: '
                               f'{example}')
            return optim_wrapper['student'], optim_wrapper['discriminator'] if len(need) == 2 else None
        if self.discriminator is not None:
            raise TypeError(f'{type(self).__name__} trains its discriminators with their own optimizer: '
                            f'{example}; got a single {type(optim_wrapper).__name__}')
        return optim_wrapper, None

    def train_step(self, data: dict, optim_wrapper: Union[OptimWrapperDict, OptimWrapper]) -> Dict[str, Tensor]:
        """1. the student: pre-process, forward (discriminators frozen), weighted update of its objectives;
        2. the discriminators: their loss on the detached outputs, their own optimizer."""
        student_ow, disc_ow = self._wrappers(optim_wrapper)
        with student_ow.optim_context(self):
            data = self.data_preprocessor(data, True)
            losses = self._run_forward(data, mode='loss')
        loss_fn = None
        if getattr(self.weighting, 'needs_post_step_losses', False):

            def loss_fn() -> Dict[str, Tensor]:
                kept = self._disc_inputs           # the discriminators learn from the pre-step outputs
                try:
                    with student_ow.optim_context(self):
                        return self._run_forward(data, mode='loss')
                finally:
                    self._disc_inputs = kept

        if self.weighting is None:
            total, log_vars = self.parse_losses(losses)
            student_ow.update_params(total)
        else:
            log_vars = student_ow.update_weighted(self, losses, loss_fn=loss_fn)
        if disc_ow is not None:
            with disc_ow.optim_context(self.discriminator):
                d_losses = self.discriminator_losses()
            disc_ow.update_params(sum(d_losses.values()))
            log_vars.update({k: v.detach() for k, v in d_losses.items()})
        self._disc_inputs = None
        return log_vars

    # ----------------------------------------------------------------- export
    def export_state_dict(self) -> Dict[str, Tensor]:
        """The deployable result: the student's own ``state_dict`` (keys of the plain student model)."""
        return self.student.state_dict()
