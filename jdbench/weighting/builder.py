"""Building a strategy from a config, and the objective names a model's balance implies."""
from typing import List, Optional, Sequence, Union

from jdbench.registry import WEIGHTINGS
from .base import BaseWeighting


def registered_strategies() -> List[str]:
    """Names of every registered strategy."""
    WEIGHTINGS.import_from_location()
    return sorted(WEIGHTINGS.module_dict)


def objective_names(balance: str, task_names: Optional[Sequence[str]] = None,
                    teacher_names: Optional[Sequence[str]] = None) -> List[str]:
    """The objectives balanced under ``balance``: ``'tasks'`` -> task names, ``'distill'`` ->
    ``kd.<teacher>``,
    ``'all'`` -> both (tasks first)."""
    tasks = list(task_names or [])
    kd = [f'kd.{t}' for t in (teacher_names or [])]
    if balance == 'tasks':
        return tasks
    if balance == 'distill':
        return kd
    if balance == 'all':
        return tasks + kd
    raise ValueError(f"balance must be 'tasks', 'distill' or 'all', got {balance!r}")


def build_weighting(cfg: Union[dict, BaseWeighting], task_names: Optional[Sequence[str]] = None,
                    teacher_names: Optional[Sequence[str]] = None) -> BaseWeighting:
    """Build a strategy from ``WEIGHTINGS``; an unknown type lists the registered ones.

    With ``task_names`` (and ``teacher_names`` for ``balance='distill'/'all'``) the strategy is set up at
    once, so learnable parameters (UW, IMTL) exist before the optimizer is built. Models should pass them.
    """
    if isinstance(cfg, BaseWeighting):
        weighting = cfg
    else:
        if not isinstance(cfg, dict) or 'type' not in cfg:
            raise TypeError(f'a weighting config must be a dict with a "type" key, got {cfg!r}')
        cfg = dict(cfg)
        wtype = cfg['type']
        if isinstance(wtype, str) and WEIGHTINGS.get(wtype) is None:
            raise KeyError(f'unknown weighting strategy {wtype!r}; registered strategies: '
                           f'{", ".join(registered_strategies())}')
        weighting = WEIGHTINGS.build(cfg)
    if not isinstance(weighting, BaseWeighting):
        raise TypeError(f'{type(weighting).__name__} is not a jdbench BaseWeighting')
    if not weighting.objectives and (task_names or teacher_names):
        names = objective_names(weighting.balance, task_names, teacher_names)
        if names:
            weighting.setup(names)
    return weighting
