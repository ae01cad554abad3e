"""The "Adding a method" guide of docs/architecture.md, followed step by step by a toy method.

``ToyDAKD`` is a toy domain-adaptive distiller written as a plugin would be: a model registered in jdbench's
``MODELS`` that declares its ``objectives()``, reads a second data stream (``MultiStreamDataset`` with a
labelled ``source`` and an unlabelled ``target`` stream, pre-processed by ``MultiStreamDataPreProcessor``) and
trains a discriminator with its own optimizer (``MultiOptimWrapperConstructor``: the student is a
``WeightedOptimWrapper`` over every other parameter, the discriminator a plain ``OptimWrapper`` with Adam,
each with its own ``param_scheduler``). mmengine's ``Runner`` trains it for 2 iterations and resumes it.
"""
import copy
from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapperDict
from mmengine.runner import Runner
from torch import Tensor

from jdbench.models.objectives import Objective
from jdbench.registry import DATASETS, HOOKS, MODELS
from jdbench.weighting import build_weighting

WEIGHTS = {'a': 2.0, 'b': 0.0, 'kd.a': 0.5}     # Fixed weights: objective 'b' must not move head 'b'
ADV = 0.1                                       # weight of the unweighted adversarial term
STUDENT_LR, MOMENTUM = 0.1, 0.9


@DATASETS.register_module(force=True)
class ToyVectors(torch.utils.data.Dataset):
    """``n`` vectors ``x`` (4,) from ``seed``, plus ``shift``; labelled: targets ``(2,)`` of tasks a, b."""

    def __init__(self, n: int, seed: int, shift: float = 0., labelled: bool = True) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 4, generator=gen) + shift
        self.y = torch.stack([self.x[:, 0] - self.x[:, 1], self.x[:, 2] * 0.5 + self.x[:, 3]], 1)
        self.labelled = labelled

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return dict(inputs=self.x[i], data_samples=self.y[i]) if self.labelled else dict(inputs=self.x[i])


@MODELS.register_module(force=True)
class ToyDAKD(BaseModel):
    """Backbone + task heads ``a``, ``b`` (the student), a frozen teacher of task ``a`` and a discriminator
    that tells source features from target features.

    Objectives: ``a``, ``b`` (ground truth on the source stream) and ``kd.a`` (the teacher on the target
    stream); ``adv.loss_adv`` (fool the discriminator on the target stream) is added unweighted.
    """

    def __init__(self, weighting: dict, data_preprocessor: Optional[dict] = None, seed: int = 0) -> None:
        super().__init__(data_preprocessor=data_preprocessor)
        self.backbone = nn.Linear(4, 6)
        self.heads = nn.ModuleDict(dict(a=nn.Linear(6, 1), b=nn.Linear(6, 1)))
        self.teacher = nn.Linear(4, 1)
        self.discriminator = nn.Sequential(nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 1))
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
        self.teacher.requires_grad_(False)
        self.weighting = build_weighting(weighting, objectives=self.objectives())
        self.shared_rep = None
        self.domain_feats = None

    # the contract WeightedOptimWrapper reads
    def objectives(self) -> List[Objective]:
        return [Objective('a', 'a.', 'task', 'a'), Objective('b', 'b.', 'task', 'b'),
                Objective('kd.a', 'kd.a.', 'distill', 'a')]

    def shared_modules(self) -> List[nn.Module]:
        return [self.backbone]

    def forward(self, inputs: Optional[Tensor] = None, data_samples=None, mode: str = 'tensor', **streams):
        if mode == 'loss':
            return self.loss(**streams)
        return {t: h(torch.tanh(self.backbone(inputs))).squeeze(1) for t, h in self.heads.items()}

    def loss(self, source: dict, target: dict) -> Dict[str, Tensor]:
        fs, ft = torch.tanh(self.backbone(source['inputs'])), torch.tanh(self.backbone(target['inputs']))
        self.shared_rep = (fs, )
        self.domain_feats = (fs.detach(), ft.detach())      # for the discriminator's own step
        y = source['data_samples']
        self.discriminator.requires_grad_(False)            # the student's loss does not train it
        adv = F.binary_cross_entropy_with_logits(self.discriminator(ft), torch.ones(len(ft), 1))
        self.discriminator.requires_grad_(True)
        return {
            'a.loss_mse': F.mse_loss(self.heads['a'](fs).squeeze(1), y[:, 0]),
            'b.loss_mse': F.mse_loss(self.heads['b'](fs).squeeze(1), y[:, 1]),
            'kd.a.loss_kd': F.mse_loss(self.heads['a'](ft), self.teacher(target['inputs'])),
            'adv.loss_adv': ADV * adv,
        }

    def discriminator_loss(self) -> Tensor:
        fs, ft = self.domain_feats
        ds, dt = self.discriminator(fs), self.discriminator(ft)
        return (F.binary_cross_entropy_with_logits(ds, torch.ones_like(ds)) +
                F.binary_cross_entropy_with_logits(dt, torch.zeros_like(dt)))

    def train_step(self, data: dict, optim_wrapper: OptimWrapperDict) -> Dict[str, Tensor]:
        # 1. the student: weighted update of its objectives (the guide's train_step)
        with optim_wrapper['student'].optim_context(self):
            data = self.data_preprocessor(data, True)
            losses = self._run_forward(data, mode='loss')
        log_vars = optim_wrapper['student'].update_weighted(self, losses)
        # 2. the discriminator: its own loss, its own optimizer
        with optim_wrapper['discriminator'].optim_context(self.discriminator):
            loss_d = self.discriminator_loss()
        optim_wrapper['discriminator'].update_params(loss_d)
        log_vars['disc.loss_d'] = loss_d.detach()
        return log_vars


def _cfg(work_dir, max_iters: int, seed: int = 0, **kwargs) -> Config:
    return Config(dict(
        model=dict(type='ToyDAKD', seed=seed,
                   weighting=dict(type='Fixed', weights=WEIGHTS, balance='all'),
                   data_preprocessor=dict(type='MultiStreamDataPreProcessor',
                                          preprocessor=dict(type='BaseDataPreprocessor'))),
        work_dir=str(work_dir),
        train_dataloader=dict(
            batch_size=4, num_workers=0, sampler=dict(type='InfiniteSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            dataset=dict(type='MultiStreamDataset', seed=0,
                         streams=dict(source=dict(type='ToyVectors', n=8, seed=1),
                                      target=dict(type='ToyVectors', n=3, seed=2, shift=1.5,
                                                  labelled=False)))),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters),
        optim_wrapper=dict(
            constructor='MultiOptimWrapperConstructor',
            student=dict(type='WeightedOptimWrapper', modules='*',
                         optimizer=dict(type='SGD', lr=STUDENT_LR, momentum=MOMENTUM)),
            discriminator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=0.01))),
        param_scheduler=dict(
            student=[dict(type='MultiStepLR', milestones=[1], gamma=0.5, by_epoch=False)],
            discriminator=[dict(type='ConstantLR', factor=1.0, by_epoch=False)]),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
                           logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0),
        default_scope='jdbench', log_level='WARNING', **kwargs))


def _params(module: nn.Module) -> Dict[str, Tensor]:
    return {n: p.detach().clone() for n, p in module.named_parameters()}


def _same(a: Dict[str, Tensor], b: Dict[str, Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@HOOKS.register_module(force=True)
class ToyStepSpy(Hook):
    """Watches each optimizer's update during training: what it changed, and the student's update against a
    hand-computed SGD-with-momentum step on ``sum_k w_k L_k + adv``."""

    def __init__(self) -> None:
        self.records: List[dict] = []

    def before_train(self, runner) -> None:
        model, ow = runner.model, runner.optim_wrapper
        student, disc = ow['student'], ow['discriminator']
        update_weighted, update_params = student.update_weighted, disc.update_params
        student_names = [n for n, p in model.named_parameters() if not n.startswith('discriminator.')
                         and p.requires_grad]

        def spy_student(m, losses, **kw):
            rec = dict(lr=student.param_groups[0]['lr'], disc_before=_params(model.discriminator))
            params = [p for g in student.optimizer.param_groups for p in g['params']]
            total = sum(WEIGHTS[k.split('.loss')[0]] * v for k, v in losses.items() if k != 'adv.loss_adv')
            grads = torch.autograd.grad(total + losses['adv.loss_adv'], params, retain_graph=True,
                                        allow_unused=True)
            expected = []
            for p, g in zip(params, grads):
                g = torch.zeros_like(p) if g is None else g
                buf = student.optimizer.state[p].get('momentum_buffer')
                buf = g if buf is None else MOMENTUM * buf + g
                expected.append(p.detach() - rec['lr'] * buf)
            out = update_weighted(m, losses, **kw)
            rec['student_err'] = max((p.detach() - e).abs().max().item() for p, e in zip(params, expected))
            rec['disc_kept'] = _same(rec['disc_before'], _params(model.discriminator))
            self.records.append(rec)
            return out

        def spy_disc(loss, **kw):
            before = {n: p.detach().clone() for n, p in model.named_parameters() if n in student_names}
            disc_before = _params(model.discriminator)
            update_params(loss, **kw)
            after = {n: p.detach().clone() for n, p in model.named_parameters() if n in student_names}
            self.records[-1].update(student_kept=_same(before, after),
                                    disc_moved=not _same(disc_before, _params(model.discriminator)))

        student.update_weighted, disc.update_params = spy_student, spy_disc


@HOOKS.register_module(force=True)
class ToyStateAtStart(Hook):
    """The optimizers' state when training starts (after ``load_or_resume``)."""

    def before_train(self, runner) -> None:
        self.state = copy.deepcopy(runner.optim_wrapper.state_dict())
        self.iter = runner.iter


def _assert_tree_equal(a, b, path='') -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _assert_tree_equal(a[k], b[k], f'{path}.{k}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_tree_equal(x, y, f'{path}[{i}]')
    elif isinstance(a, Tensor):
        assert torch.equal(a, b), path
    else:
        assert a == b, path


def _train(cfg: Config) -> Runner:
    runner = Runner.from_cfg(cfg)
    # mmengine's message-hub state pickles ``getattr``, which torch>=2.6's weights_only loader rejects
    with torch.serialization.safe_globals([getattr]):
        runner.train()
    return runner


def _hook(runner: Runner, cls: type) -> Hook:
    return next(h for h in runner.hooks if isinstance(h, cls))


def test_toy_method_follows_the_guide(tmp_path):
    runner = _train(_cfg(tmp_path / 'a', 2, custom_hooks=[dict(type='ToyStepSpy')]))
    spy = _hook(runner, ToyStepSpy)
    model, ow = runner.model, runner.optim_wrapper
    init = ToyDAKD(weighting=dict(type='Fixed', weights=WEIGHTS, balance='all'))   # same seed: the start
    assert isinstance(ow, OptimWrapperDict) and type(ow['student']).__name__ == 'WeightedOptimWrapper'

    # the constructor: the student holds every trainable non-discriminator parameter, the discriminator
    # its own
    held = {k: {id(p) for g in w.optimizer.param_groups for p in g['params']} for k, w in ow.items()}
    names = {id(p): n for n, p in model.named_parameters()}
    assert sorted(names[i] for i in held['student']) == sorted(
        n for n, p in model.named_parameters() if p.requires_grad and not n.startswith('discriminator.'))
    assert sorted(names[i] for i in held['discriminator']) == sorted(
        n for n, _ in model.named_parameters() if n.startswith('discriminator.'))

    # both optimizers stepped twice
    assert len(spy.records) == 2
    for p in model.discriminator.parameters():
        assert int(ow['discriminator'].optimizer.state[p]['step']) == 2
    for p in model.backbone.parameters():
        assert 'momentum_buffer' in ow['student'].optimizer.state[p]
    assert not torch.equal(model.backbone.weight, init.backbone.weight)
    assert not torch.equal(model.discriminator[0].weight, init.discriminator[0].weight)
    assert all(r['disc_moved'] for r in spy.records)

    # the weighting weighted the student's objectives: logged weights, the hand-computed update (under the
    # student's own schedule: lr 0.1 then 0.05), and objective 'b' (weight 0) did not move head 'b'
    hub = runner.message_hub
    assert {k: hub.get_scalar(f'train/w.{k}').current() for k in WEIGHTS} == WEIGHTS
    assert [r['lr'] for r in spy.records] == [STUDENT_LR, STUDENT_LR * 0.5]
    assert max(r['student_err'] for r in spy.records) < 1e-6
    assert _same(_params(model.heads['b']), _params(init.heads['b']))
    assert not _same(_params(model.heads['a']), _params(init.heads['a']))
    assert torch.equal(model.teacher.weight, init.teacher.weight)                   # frozen, in no optimizer
    assert hub.get_scalar('train/disc.loss_d').current() > 0

    # each step leaves the other module alone
    assert all(r['disc_kept'] and r['student_kept'] for r in spy.records)

    # resume from iteration 2: both optimizers (and their schedules) come back, and the third iteration is
    # the one an uninterrupted run makes
    ckpt = tmp_path / 'a' / 'iter_2.pth'
    with torch.serialization.safe_globals([getattr]):
        saved = torch.load(ckpt, map_location='cpu')
    resumed = _train(_cfg(tmp_path / 'b', 3, seed=123, custom_hooks=[dict(type='ToyStateAtStart')],
                          resume=True, load_from=str(ckpt)))
    start = _hook(resumed, ToyStateAtStart)
    assert start.iter == 2 and resumed.iter == 3
    assert set(saved['optimizer']) == {'student', 'discriminator'}
    _assert_tree_equal(start.state, saved['optimizer'])
    for p in resumed.model.discriminator.parameters():
        assert int(resumed.optim_wrapper['discriminator'].optimizer.state[p]['step']) == 3
    straight = _train(_cfg(tmp_path / 'c', 3))
    assert _same(_params(resumed.model), _params(straight.model))
    _assert_tree_equal(resumed.optim_wrapper.state_dict(), straight.optim_wrapper.state_dict())
