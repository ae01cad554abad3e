"""jdbench's one feature-capture mechanism: recorders that keep a module's input or output, found by its path.

They follow mmrazor's ``ModuleInputsRecorder`` / ``ModuleOutputsRecorder``: a recorder is attached to a model,
and every forward of that model stores what went into (or came out of) the module at ``source``, e.g.
``'heads.seg.conv_seg'`` (the input of a head's prediction layer, see :func:`prediction_layer`) or ``'neck'``
with ``index=0`` (the finest FPN level). Teachers keep theirs attached for good; :class:`Recording` attaches a
set of recorders for the duration of a ``with`` block (the knowledge trajectory's attention maps).
"""
import difflib
from typing import Dict, List, Optional

import torch.nn as nn
from torch import Tensor
from torch.utils.hooks import RemovableHandle

from jdbench.registry import MODELS

FEATURE_IO = ('input', 'output')


def close_module_names(model: nn.Module, path: str, n: int = 6) -> List[str]:
    """Module paths of ``model`` that look like ``path`` (for error messages)."""
    names = [name for name, _ in model.named_modules() if name]
    close = difflib.get_close_matches(path, names, n=n, cutoff=0.5)
    if close:
        return close
    # fall back to the children of the longest prefix of ``path`` that exists
    parts = path.split('.')
    for cut in range(len(parts) - 1, -1, -1):
        prefix = '.'.join(parts[:cut])
        depth = cut if prefix else 0
        kids = [name for name in names if name.startswith(prefix) and name.count('.') == depth]
        if kids:
            return kids[:n]
    return names[:n]


def resolve_module(model: nn.Module, path: str, owner: Optional[str] = None) -> nn.Module:
    """The sub-module of ``model`` at ``path`` (as in ``named_modules()``); a ``KeyError`` naming close paths."""
    modules = dict(model.named_modules())
    if path and path in modules:
        return modules[path]
    raise KeyError(f'feature path {path!r} does not exist in {owner or type(model).__name__}; '
                   f'close module names: {close_module_names(model, path)}')


def prediction_layer(model: nn.Module, task: Optional[str] = None) -> str:
    """Path of the layer that makes ``task``'s prediction: its input is the feature that the connector, the
    trajectory and the teachers' ``last`` recorder use.

    ``'heads.<task>.conv_seg'`` for a :class:`~jdbench.models.JointStudent` (``task`` may be omitted when it has
    one head), ``'decode_head.conv_seg'`` for an mmseg ``EncoderDecoder``/``DepthEstimator``.
    """
    heads = getattr(model, 'heads', None)
    if isinstance(heads, nn.ModuleDict):
        names = list(heads)
        if task is None:
            if len(names) != 1:
                raise ValueError(f'the model has heads {names}; name the task whose prediction layer is meant')
            task = names[0]
        if task not in names:
            raise ValueError(f'task {task!r} is not one of the model\'s heads {names}')
        return f'heads.{task}.conv_seg'
    if hasattr(model, 'decode_head'):
        return 'decode_head.conv_seg'
    raise TypeError(f'{type(model).__name__} has neither task heads nor a decode_head: give the feature path')


class _ModuleRecorder:
    """Base of the module recorders.

    Args:
        source (str): path of the module in the model, as in ``model.named_modules()``.
        index (int, optional): when the recorded value is a tuple/list (e.g. the levels of an FPN), keep only
            this element. Module inputs are always a tuple; ``None`` keeps its first element.
    """

    def __init__(self, source: str, index: Optional[int] = None) -> None:
        self.source = source
        self.index = index
        self.data: Optional[Tensor] = None
        self._handle: Optional[RemovableHandle] = None

    def attach(self, model: nn.Module, owner: Optional[str] = None) -> None:
        """Hook ``model``'s module ``source``; a ``KeyError`` listing close names when it does not exist."""
        module = resolve_module(model, self.source, owner)
        self.detach()
        self._handle = module.register_forward_hook(self._hook)

    def detach(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def _select(self, value) -> Tensor:
        if isinstance(value, (tuple, list)):
            if self.index is None:
                raise TypeError(f'{self.source!r} gives a sequence of {len(value)} tensors; '
                                'set index= to pick one')
            value = value[self.index]
        elif self.index is not None:
            raise TypeError(f'{self.source!r} gives a single tensor; index={self.index} cannot be applied')
        return value

    def _hook(self, module: nn.Module, inputs: tuple, output) -> None:
        raise NotImplementedError

    def pop(self) -> Tensor:
        """The value recorded by the last forward; the recorder is emptied (no tensor kept between steps)."""
        if self.data is None:
            raise RuntimeError(f'nothing recorded at {self.source!r}: '
                               'the module did not run in the last forward')
        data, self.data = self.data, None
        return data


@MODELS.register_module()
class ModuleOutputsRecorder(_ModuleRecorder):
    """Records the output of the module at ``source`` (element ``index`` of a tuple output)."""

    def _hook(self, module: nn.Module, inputs: tuple, output) -> None:
        value = self._select(output)
        if not isinstance(value, Tensor):
            raise TypeError(f'{self.source!r} returns {type(value).__name__}, not a tensor; record a module with '
                            "a tensor output or record its input")
        self.data = value


@MODELS.register_module()
class ModuleInputsRecorder(_ModuleRecorder):
    """Records the (first, or ``index``-th) positional input of the module at ``source``."""

    def _hook(self, module: nn.Module, inputs: tuple, output) -> None:
        value = inputs[0 if self.index is None else self.index] if inputs else None
        if not isinstance(value, Tensor):
            raise TypeError(f'{self.source!r} was not called with a tensor as its input')
        self.data = value


def build_recorder(source: str, io: str = 'input') -> _ModuleRecorder:
    """A recorder of the ``io`` (``'input'`` or ``'output'``) of the module at ``source``."""
    if io not in FEATURE_IO:
        raise ValueError(f'feature_io must be one of {FEATURE_IO}, got {io!r}')
    return ModuleInputsRecorder(source) if io == 'input' else ModuleOutputsRecorder(source)


class Recording:
    """Recorders attached to ``model`` while the ``with`` block runs (paths are checked at construction).

    ``with Recording(model, {'seg': 'heads.seg.conv_seg'}) as rec: model(x); f = rec.pop('seg')``

    Args:
        model (nn.Module): the model.
        paths (dict[str, str]): key -> module path.
        io (str): record each module's ``'input'`` (default) or ``'output'``.
        owner (str, optional): how to name ``model`` in error messages.
    """

    def __init__(self, model: nn.Module, paths: Dict[str, str], io: str = 'input',
                 owner: Optional[str] = None) -> None:
        for path in paths.values():
            resolve_module(model, path, owner)
        self.model, self.owner = model, owner
        self.recorders = {key: build_recorder(path, io) for key, path in paths.items()}

    def __enter__(self) -> 'Recording':
        for rec in self.recorders.values():
            rec.attach(self.model, self.owner)
        return self

    def __exit__(self, *exc) -> None:
        for rec in self.recorders.values():
            rec.detach()
            rec.data = None

    def pop(self, key: str) -> Tensor:
        """The tensor recorded at ``key``'s module by the last forward (B, C, H, W)."""
        return self.recorders[key].pop()
