import math

import pytest
import torch
from mmengine.config import Config
from mmengine.utils import import_modules_from_strings

from jdbench.models.objectives import task_objectives
from jdbench.registry import WEIGHTINGS
from jdbench.weighting import build_weighting

CONFIG = 'projects/example_weighting/configs/mtl_geometric_synthdrive.py'


def _strategy():
    cfg = Config.fromfile(CONFIG)
    import_modules_from_strings(**cfg.custom_imports)
    return build_weighting(cfg.model.weighting, objectives=task_objectives(['seg', 'depth']))


def test_custom_imports_register_the_strategy():
    strategy = _strategy()
    assert type(strategy).__name__ == 'GeometricMean' and 'GeometricMean' in WEIGHTINGS.module_dict


def test_weights_are_the_gradient_of_the_geometric_mean():
    strategy = _strategy()
    losses = {'seg': torch.tensor(2.0), 'depth': torch.tensor(8.0)}
    w = strategy.weights(losses, iteration=0)
    gm = math.sqrt(2.0 * 8.0)
    assert w['seg'].item() == pytest.approx(gm / (2 * 2.0)) and w['depth'].item() == pytest.approx(gm / (2 * 8.0))
    # the weighted sum has the same gradient as the geometric mean itself
    l = torch.tensor([2.0, 8.0], requires_grad=True)
    torch.exp(torch.log(l).mean()).backward()
    torch.testing.assert_close(l.grad, torch.stack([w['seg'], w['depth']]).float())


def test_state_round_trip():
    a, b = _strategy(), build_weighting(dict(type='GeometricMean'))
    b.load_state_dict(a.state_dict())
    assert b.objectives == ['seg', 'depth']
