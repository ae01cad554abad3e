"""Feature recorders: capture the input or output of a module, found by its path, with a forward hook.

They follow mmrazor's ``ModuleInputsRecorder`` / ``ModuleOutputsRecorder``: a recorder is attached once to a
model, and every forward of that model stores what went into (or came out of) the module at ``source``,
e.g. ``'heads.seg.conv_seg'`` (the input of a head's last prediction layer) or ``'neck'`` with ``index=0``
(the finest FPN level).
"""
import difflib
from typing import List, Optional

import torch.nn as nn
from torch import Tensor
from torch.utils.hooks import RemovableHandle

from jdbench.registry import MODELS


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

    def attach(self, model: nn.Module) -> None:
        """Hook ``model``'s module ``source``; a ``KeyError`` listing close names when it does not exist."""
        modules = dict(model.named_modules())
        if self.source not in modules:
            raise KeyError(f'feature path {self.source!r} does not exist in {type(model).__name__}; '
                           f'close module names: {close_module_names(model, self.source)}')
        self.detach()
        self._handle = modules[self.source].register_forward_hook(self._hook)

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
        self.data = self._select(output)


@MODELS.register_module()
class ModuleInputsRecorder(_ModuleRecorder):
    """Records the (first, or ``index``-th) positional input of the module at ``source``."""

    def _hook(self, module: nn.Module, inputs: tuple, output) -> None:
        self.data = inputs[0 if self.index is None else self.index]
