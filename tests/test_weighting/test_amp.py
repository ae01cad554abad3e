"""AMP loss scaling: per-objective gradients are unscaled before combining and re-scaled when written.

``AmpWeightedOptimWrapper`` (mmengine's ``AmpOptimWrapper``) needs CUDA; on CPU the same wrapper logic is
exercised with an ``AmpWeightedOptimWrapper`` whose ``loss_scaler`` is a CPU ``torch.amp.GradScaler`` (no
autocast: a power-of-two scale is exact, so the update must equal the fp32 one).
"""
import copy

import pytest
import torch
from mmengine.optim import OptimWrapper

from jdbench.engine.optimizers import AmpWeightedOptimWrapper, WeightedOptimWrapper
from .toy import ToyJoint, toy_batch


class _CpuAmpOptimWrapper(AmpWeightedOptimWrapper):
    """AmpWeightedOptimWrapper's backward/step with a CPU GradScaler and without autocast."""
    optim_context = OptimWrapper.optim_context


def _cpu_amp_wrapper(model, init_scale):
    ow = _CpuAmpOptimWrapper.__new__(_CpuAmpOptimWrapper)
    OptimWrapper.__init__(ow, optimizer=torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    ow._scale_update_param = None
    ow.cast_dtype = None
    ow.loss_scaler = torch.amp.GradScaler('cpu', init_scale=init_scale)
    return ow


@pytest.mark.parametrize('cfg', [dict(type='PCGrad'), dict(type='NashMTL'), dict(type='MGDA', rep_grad=True),
                                 dict(type='UW')])
def test_amp_scaling_is_transparent(cfg):
    ref = ToyJoint(weighting=cfg, distill=True, seed=6)
    amp = copy.deepcopy(ref)
    ow_ref = WeightedOptimWrapper(torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9))
    ow_amp = _cpu_amp_wrapper(amp, 1024.0)
    for step in range(2):
        ref.train_step(toy_batch(seed=step), ow_ref)
        amp.train_step(toy_batch(seed=step), ow_amp)
    for (name, p), (_, q) in zip(ref.named_parameters(), amp.named_parameters()):
        torch.testing.assert_close(q, p, rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.parametrize('cfg', [dict(type='PCGrad'), dict(type='MGDA', rep_grad=True)])
def test_amp_overflow_skips_the_step(cfg):
    model = ToyJoint(weighting=cfg, seed=6)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ow = _cpu_amp_wrapper(model, 3e38)          # scaled gradients overflow to inf
    model.train_step(toy_batch(), ow)
    for k, v in model.state_dict().items():
        if k.startswith(('backbone', 'heads')):
            assert torch.equal(v, before[k]), k
    assert ow.loss_scaler.get_scale() < 3e38       # the scaler backed off


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA for AmpWeightedOptimWrapper')
@pytest.mark.parametrize('cfg', [dict(type='PCGrad'), dict(type='UW')])
def test_amp_optim_wrapper_cuda(cfg):
    ref = ToyJoint(weighting=cfg, distill=True, seed=6).cuda()
    amp = copy.deepcopy(ref)
    ow_ref = WeightedOptimWrapper(torch.optim.SGD(ref.parameters(), lr=0.1))
    ow_amp = AmpWeightedOptimWrapper(optimizer=torch.optim.SGD(amp.parameters(), lr=0.1), loss_scale=512.0)
    batch = {k: v.cuda() for k, v in toy_batch().items()}
    ref.train_step(batch, ow_ref)
    amp.train_step(batch, ow_amp)
    for (name, p), (_, q) in zip(ref.named_parameters(), amp.named_parameters()):
        torch.testing.assert_close(q, p, rtol=2e-2, atol=2e-3, msg=name)   # fp16 autocast forward
