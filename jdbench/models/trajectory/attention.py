"""Attention maps, their essential points, and forward hooks that capture the features they are made from.

An attention map pools the channels of a feature map away (Zagoruyko & Komodakis' activation-based attention):
``A = mean_c |F_c|^p``, resized to one grid, flattened and L2-normalised per image. Maps of models with
different widths (teacher vs student) therefore compare directly. The *essential points* of a map are its
top-k positions.
"""
import difflib
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.utils.hooks import RemovableHandle

FEATURE_IO = ('input', 'output')


def attention_map(feat: Tensor, p: float = 2.0, size: Optional[Sequence[int]] = None,
                  eps: float = 1e-12) -> Tensor:
    """Feature map (B, C, H, W) -> attention map (B, h·w), L2-normalised per image.

    ``A = mean_c |F_c|^p`` (computed in float32), bilinearly resized to ``size = (h, w)`` when given (else
    ``(h, w) = (H, W)``), flattened row-major (position ``r·w + c``) and divided by its L2 norm.
    """
    if feat.dim() != 4:
        raise ValueError(f'attention_map expects a (B, C, H, W) feature map, got shape {tuple(feat.shape)}')
    amap = feat.float().abs().pow(p).mean(dim=1, keepdim=True)
    if size is not None and tuple(amap.shape[-2:]) != tuple(int(s) for s in size):
        amap = F.interpolate(amap, size=tuple(int(s) for s in size), mode='bilinear', align_corners=False)
    return F.normalize(amap.flatten(1), p=2, dim=1, eps=eps)


def essential_points(maps: Tensor, k: int, width: int) -> Tuple[Tensor, Tensor]:
    """Top-k points of flattened maps (B, h·w) -> positions (B, k, 2) int32 ``(row, col)`` and values (B, k).

    Points are sorted by decreasing value (ties: the lower flat index first, as ``torch.topk`` on CPU).
    """
    if maps.dim() != 2:
        raise ValueError(f'essential_points expects flattened maps (B, h*w), got shape {tuple(maps.shape)}')
    n = maps.shape[1]
    if not 0 < k <= n:
        raise ValueError(f'topk={k} essential points need 0 < k <= h*w = {n} (grid too small for k; '
                         'lower topk or the stride)')
    if n % width:
        raise ValueError(f'map length {n} is not a multiple of the grid width {width}')
    values, flat = maps.detach().topk(k, dim=1, largest=True, sorted=True)
    positions = torch.stack([flat // width, flat % width], dim=-1).to(torch.int32)
    return positions, values


def gather_points(maps: Tensor, positions: Tensor, width: int) -> Tensor:
    """Values of flattened maps (B, h·w) at ``(row, col)`` positions (B, k, 2) -> (B, k) (differentiable)."""
    flat = positions[..., 0].long() * int(width) + positions[..., 1].long()
    return maps.gather(1, flat.to(maps.device))


def grid_size(input_size: Sequence[int], stride: int) -> Tuple[int, int]:
    """Attention grid ``(h, w) = ceil(input / stride)`` for a network input ``(H, W)``."""
    if stride < 1:
        raise ValueError(f'stride must be >= 1, got {stride}')
    return tuple(max(1, -(-int(s) // int(stride))) for s in input_size)  # type: ignore[return-value]


def resolve_module(model: nn.Module, path: str, owner: str = 'the model') -> nn.Module:
    """The sub-module of ``model`` at ``path`` (as in ``named_modules()``); else a ``KeyError`` naming
    close paths."""
    modules = dict(model.named_modules())
    if path in modules and path:
        return modules[path]
    names = [n for n in modules if n]
    close = difflib.get_close_matches(path, names, n=6, cutoff=0.5)
    if not close:
        head = path.rsplit('.', 1)[0]
        close = [n for n in names if n.startswith(head + '.') and n.count('.') == head.count('.') + 1][:6]
    raise KeyError(f'feature path {path!r} is not a module of {owner} ({type(model).__name__}); '
                   f'close module paths: {close or names[:6]}')


class FeatureCapture:
    """Context manager: while active, records the input (or output) of named sub-modules on every forward.

    Args:
        model (nn.Module): the model.
        paths (dict[str, str]): key -> module path, e.g. ``{'seg': 'heads.seg.conv_seg'}``.
        io (str): ``'input'`` (first positional input) or ``'output'`` (a tensor output).
        owner (str): how to name ``model`` in error messages.

    ``capture.features[key]`` holds the tensor of the last call of that module (a graph is kept: the
    student's features are differentiable). Paths are checked at construction.
    """

    def __init__(self, model: nn.Module, paths: Dict[str, str], io: str = 'input',
                 owner: str = 'the model') -> None:
        if io not in FEATURE_IO:
            raise ValueError(f'feature_io must be one of {FEATURE_IO}, got {io!r}')
        self.io = io
        self.modules = {key: resolve_module(model, path, owner) for key, path in paths.items()}
        self.paths = dict(paths)
        self.features: Dict[str, Tensor] = {}
        self._handles: List[RemovableHandle] = []

    def _make_hook(self, key: str):
        if self.io == 'input':
            def pre_hook(module: nn.Module, args: tuple) -> None:
                if not args or not isinstance(args[0], Tensor):
                    raise TypeError(f'{self.paths[key]!r} was not called with a tensor as first input')
                self.features[key] = args[0]
            return pre_hook

        def hook(module: nn.Module, args: tuple, output) -> None:
            if not isinstance(output, Tensor):
                raise TypeError(f'{self.paths[key]!r} returns {type(output).__name__}, not a tensor; '
                                "record a module with a tensor output or use feature_io='input'")
            self.features[key] = output
        return hook

    def __enter__(self) -> 'FeatureCapture':
        self.features = {}
        for key, module in self.modules.items():
            hook = self._make_hook(key)
            handle = (module.register_forward_pre_hook(hook) if self.io == 'input' else
                      module.register_forward_hook(hook))
            self._handles.append(handle)
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def pop(self, key: str) -> Tensor:
        """The recorded tensor of ``key`` (B, C, H, W); error if its module did not run."""
        if key not in self.features:
            raise RuntimeError(f'nothing recorded at {self.paths[key]!r}: the module did not run in the '
                               'forward')
        return self.features.pop(key)
