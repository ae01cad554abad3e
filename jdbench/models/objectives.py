"""The objectives a model declares: which loss keys a weighting strategy balances together."""
from typing import Dict, List, NamedTuple, Optional, Sequence


class Objective(NamedTuple):
    """One objective of a model's loss dict.

    Args:
        name (str): the name a strategy balances and logs (``w.<name>``): ``'seg'``, ``'kd.seg'``.
        prefix (str): the loss keys ``'<prefix><term>'`` belong to it: ``'seg.'``, ``'kd.seg.'``.
        kind (str): ``'task'`` (ground truth) or ``'distill'`` (a teacher); a strategy's ``balance`` selects
            kinds (``'tasks'``, ``'distill'`` or ``'all'``).
        score (str, optional): the task whose feedback score scores it (``'seg'`` for ``'kd.seg'``);
            ``None``: not scored.
    """
    name: str
    prefix: str
    kind: str
    score: Optional[str] = None


def task_objectives(tasks: Sequence[str]) -> List[Objective]:
    """One ``'task'`` objective per task: keys ``'<task>.*'``, scored by the task itself."""
    return [Objective(t, f'{t}.', 'task', t) for t in tasks]


def distill_objectives(teachers: Sequence[str]) -> List[Objective]:
    """One ``'distill'`` objective ``'kd.<teacher>'`` per teacher (named after the task it teaches)."""
    return [Objective(f'kd.{t}', f'kd.{t}.', 'distill', t) for t in teachers]


def objective_of(key: str, objectives: Dict[str, Objective]) -> Optional[str]:
    """The name of the objective whose prefix is the longest one ``key`` starts with, or ``None``."""
    best = None
    for name, obj in objectives.items():
        if key.startswith(obj.prefix) and (best is None or len(obj.prefix) > len(objectives[best].prefix)):
            best = name
    return best
