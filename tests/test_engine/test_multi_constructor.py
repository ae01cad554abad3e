"""MultiOptimWrapperConstructor: which parameters each optimizer holds, and its errors."""
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper, OptimWrapperDict, build_optim_wrapper

from jdbench.engine.optimizers import MultiOptimWrapperConstructor


class Net(nn.Module):
    """student (conv + BN), connector, discriminator, a frozen part and a parameter of the root."""

    def __init__(self) -> None:
        super().__init__()
        self.student = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
        self.connector = nn.Linear(4, 4)
        self.discriminator = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 1))
        self.frozen = nn.Linear(2, 2).requires_grad_(False)
        self.scale = nn.Parameter(torch.ones(()))


def _names(model, wrapper):
    ids = {id(p): n for n, p in model.named_parameters()}
    return [ids[id(p)] for g in wrapper.optimizer.param_groups for p in g['params']]


def _build(model, **entries):
    return build_optim_wrapper(model, dict(constructor='MultiOptimWrapperConstructor', **entries))


def test_star_takes_every_other_trainable_parameter_in_model_order():
    model = Net()
    ow = _build(model,
                student=dict(optimizer=dict(type='SGD', lr=0.1), modules='*'),
                discriminator=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-3)))
    assert isinstance(ow, OptimWrapperDict) and list(ow.keys()) == ['student', 'discriminator']
    assert all(type(w) is OptimWrapper for w in ow.values())
    assert _names(model, ow['student']) == [
        'scale', 'student.0.weight', 'student.0.bias', 'student.1.weight', 'student.1.bias',
        'connector.weight', 'connector.bias'
    ]
    assert _names(model, ow['discriminator']) == [
        'discriminator.0.weight', 'discriminator.0.bias', 'discriminator.1.weight', 'discriminator.1.bias'
    ]
    assert isinstance(ow['student'].optimizer, torch.optim.SGD)
    assert isinstance(ow['discriminator'].optimizer, torch.optim.Adam)
    assert ow['discriminator'].optimizer.param_groups[0]['lr'] == 1e-3


def test_modules_lists_and_paramwise_cfg_on_full_names():
    model = Net()
    ow = _build(model,
                student=dict(optimizer=dict(type='SGD', lr=0.1, weight_decay=1e-2),
                             modules=['student', 'connector'],
                             paramwise_cfg=dict(norm_decay_mult=0.,
                                                custom_keys={'student.0': dict(lr_mult=10.)})),
                critic=dict(optimizer=dict(type='SGD', lr=0.5), modules='discriminator.1'))
    assert _names(model, ow['student']) == [
        'student.0.weight', 'student.0.bias', 'student.1.weight', 'student.1.bias', 'connector.weight',
        'connector.bias'
    ]
    groups = ow['student'].optimizer.param_groups
    assert [g['lr'] for g in groups] == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.1, 0.1])
    assert [g['weight_decay'] for g in groups] == pytest.approx([1e-2, 1e-2, 0., 0., 1e-2, 1e-2])
    assert _names(model, ow['critic']) == ['discriminator.1.weight', 'discriminator.1.bias']
    # the model itself is untouched by the pruned views the constructor builds
    assert [n for n, _ in model.named_parameters()][-2:] == ['frozen.weight', 'frozen.bias']
    assert len(list(model.student.parameters())) == 4


def test_errors_say_what_to_fix():
    model = Net()
    sgd = dict(type='SGD', lr=0.1)
    children = r"'student', 'connector', 'discriminator', 'frozen'\]"
    with pytest.raises(ValueError, match=r"no sub-module 'generator'; its children are \[" + children):
        _build(model, generator=dict(optimizer=sgd))
    with pytest.raises(ValueError, match=r"'connector.weight' is claimed by optimizer entries 'a' and 'b'"):
        _build(model, a=dict(optimizer=sgd, modules=['student', 'connector']),
               b=dict(optimizer=sgd, modules=['connector']))
    with pytest.raises(ValueError, match=r"'frozen' has no trainable parameters"):
        _build(model, frozen=dict(optimizer=sgd), rest=dict(optimizer=sgd, modules='*'))
    with pytest.raises(ValueError, match=r"'rest' has no trainable parameters \(no parameter is left"):
        _build(model.discriminator, **{'0': dict(optimizer=sgd), '1': dict(optimizer=sgd)},
               rest=dict(optimizer=sgd, modules='*'))
    with pytest.raises(ValueError, match='only one optimizer entry'):
        MultiOptimWrapperConstructor(dict(a=dict(optimizer=sgd, modules='*'),
                                          b=dict(optimizer=sgd, modules='*')))
    with pytest.raises(ValueError, match='inside each optimizer entry'):
        MultiOptimWrapperConstructor(dict(a=dict(optimizer=sgd)), paramwise_cfg=dict(norm_decay_mult=0.))


def test_resolves_by_name_in_a_fresh_process():
    """A config names the constructor; a new process with only scope 'jdbench' set finds it (registry
    location)."""
    code = ('import torch.nn as nn\n'
            'from mmengine.optim import build_optim_wrapper\n'
            'from mmengine.registry import init_default_scope\n'
            "init_default_scope('jdbench')\n"
            'm = nn.Module(); m.a = nn.Linear(1, 1); m.b = nn.Linear(1, 1)\n'
            "ow = build_optim_wrapper(m, dict(constructor='MultiOptimWrapperConstructor',\n"
            "    a=dict(optimizer=dict(type='SGD', lr=0.1)), b=dict(optimizer=dict(type='Adam', lr=0.1))))\n"
            'print(type(ow).__name__, sorted(ow.keys()))\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "OptimWrapperDict ['a', 'b']"
