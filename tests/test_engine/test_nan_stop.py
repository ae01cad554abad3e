"""A loss that turns NaN mid-training stops the run with the term's name and keeps the checkpoints saved."""
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from jdbench.registry import HOOKS
from jdbench.testing import random_teachers, tiny_config, tiny_synthdrive
from jdbench.utils import load_state_dict_checked


@HOOKS.register_module(force=True)
class _PoisonDepthKD(Hook):
    """From iteration ``at`` (1-based) on, the depth distillation term of the distiller is NaN."""

    def __init__(self, at: int) -> None:
        self.at = at

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        model = runner.model
        if runner.iter + 1 == self.at and not hasattr(model, '_poisoned'):
            kd_terms = model.kd_terms

            def poisoned(name, *args, **kwargs):
                terms = kd_terms(name, *args, **kwargs)
                return {k: v * float('nan') if name == 'depth' else v for k, v in terms.items()}

            model.kd_terms = poisoned
            model._poisoned = True


def test_nan_distillation_term_stops_and_keeps_last_checkpoint(tmp_path):
    data_root = tiny_synthdrive(str(tmp_path / 'data'), num_train=4, num_val=2, size=(32, 64))
    teachers = random_teachers(str(tmp_path / 'teachers'))  # what is tested is the stop, not the teachers
    work = tmp_path / 'work'
    cfg = tiny_config('configs/baselines/kd_static_synthdrive.py', data_root, str(work), max_iters=6,
                      cfg_options=teachers)
    cfg.custom_hooks = [*cfg.custom_hooks, dict(type='_PoisonDepthKD', at=3)]
    runner = Runner.from_cfg(cfg)
    with pytest.raises(RuntimeError, match=r'kd\.depth\.\S+=nan at iteration 3') as err:
        runner.train()
    assert '--resume' in str(err.value)
    assert (work / 'iter_2.pth').is_file() and not (work / 'iter_4.pth').exists()
    saved = load_state_dict_checked(str(work / 'iter_2.pth'))
    assert saved and all(torch.isfinite(v).all() for v in saved.values() if v.is_floating_point())
    # the parameters in memory are those of iteration 2: the poisoned step did not update them
    params = dict(runner.model.named_parameters())
    assert all(torch.equal(params[k], v) for k, v in saved.items() if k in params)
    assert any(k.startswith('student.') for k in set(params) & set(saved))
