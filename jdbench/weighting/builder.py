"""Building a strategy from a config, set up with the objectives a model declares."""
from typing import TYPE_CHECKING, List, Optional, Sequence, Union

from jdbench.registry import WEIGHTINGS
from .base import BALANCES, BaseWeighting

if TYPE_CHECKING:
    from jdbench.models.objectives import Objective

#: which objective kinds each ``balance`` selects
BALANCED_KINDS = {'tasks': ('task', ), 'distill': ('distill', ), 'all': None}


def registered_strategies() -> List[str]:
    """Names of every registered strategy."""
    WEIGHTINGS.import_from_location()
    return sorted(WEIGHTINGS.module_dict)


def objective_names(balance: str, objectives: Sequence['Objective']) -> List[str]:
    """The names of the model's ``objectives`` (in the model's order) that ``balance`` selects:
    ``'tasks'`` -> kind ``'task'``, ``'distill'`` -> kind ``'distill'``, ``'all'`` -> every objective."""
    if balance not in BALANCES:
        raise ValueError(f'balance must be one of {BALANCES}, got {balance!r}')
    kinds = BALANCED_KINDS[balance]
    return [o.name for o in objectives if kinds is None or o.kind in kinds]


def build_weighting(cfg: Union[dict, BaseWeighting],
                    objectives: Optional[Sequence['Objective']] = None) -> BaseWeighting:
    """Build a strategy from ``WEIGHTINGS``; an unknown type lists the registered ones.

    With the model's ``objectives`` (``model.objectives()``) the strategy is set up at once with those its
    ``balance`` selects, so learnable parameters (UW, IMTL) exist before the optimizer is built. Models
    should pass them.
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
    if not weighting.objectives and objectives:
        names = objective_names(weighting.balance, objectives)
        if names:
            weighting.setup(names)
    return weighting
