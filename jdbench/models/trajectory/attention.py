"""Attention maps, their essential points, and the one loop that computes them over the probe set.

An attention map pools the channels of a feature map away (Zagoruyko & Komodakis' activation-based attention):
``A = mean_c |F_c|^p``, resized to one grid, flattened and L2-normalised per image. Maps of models with
different widths (teacher vs student) therefore compare directly. The *essential points* of a map are its
top-k positions.
"""
import contextlib
from typing import Callable, Dict, Iterable, Iterator, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from ..teachers.recorder import Recording

PROBE_MODES = ('train', 'eval')


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


def attention_maps(model: nn.Module, paths: Dict[str, str], batches: Iterable[dict],
                   forward: Callable[[dict], Sequence[int]],
                   grid: Callable[[str, Sequence[int]], Tuple[float, Sequence[int]]],
                   io: str = 'input', owner: Optional[str] = None) -> Tuple[Dict[str, Tensor], Tuple[int, int]]:
    """Attention maps of the features at ``paths`` of ``model`` over the probe ``batches``.

    Args:
        model (nn.Module): the model whose modules are recorded.
        paths (dict[str, str]): key -> module path.
        batches (iterable[dict]): collated probe batches.
        forward (callable): runs the network on one batch and returns its input size ``(H, W)``.
        grid (callable): ``(key, (H, W)) -> (p, (h, w))``, the exponent and grid of ``key``'s maps.
        io (str): record each module's ``'input'`` or ``'output'``.
        owner (str, optional): how to name ``model`` in error messages.

    Returns:
        tuple: ``{key: (M, h·w)}`` maps (a graph is kept when ``forward`` builds one) and the last ``(H, W)``.
    """
    maps: Dict[str, list] = {key: [] for key in paths}
    input_size: Tuple[int, int] = (0, 0)
    with Recording(model, paths, io, owner) as rec:
        for batch in batches:
            input_size = tuple(int(s) for s in forward(batch))
            for key in paths:
                p, size = grid(key, input_size)
                maps[key].append(attention_map(rec.pop(key), p, size))
    return {key: torch.cat(m) for key, m in maps.items()}, input_size


@contextlib.contextmanager
def probe_mode(model: nn.Module, mode: str) -> Iterator[None]:
    """``'eval'``: eval mode; ``'train'``: the current mode with BN running statistics left untouched."""
    if mode not in PROBE_MODES:
        raise ValueError(f'probe mode must be one of {PROBE_MODES}, got {mode!r}')
    if mode == 'eval':
        was = model.training
        model.eval()
        try:
            yield
        finally:
            model.train(was)
        return
    saved = []
    for m in model.modules():
        if isinstance(m, _BatchNorm) and m.training and m.track_running_stats:
            tracked = None if m.num_batches_tracked is None else m.num_batches_tracked.clone()
            saved.append((m, m.momentum, tracked))
            m.momentum = 0.0  # running = (1 - 0) * running + 0 * batch: unchanged
    try:
        yield
    finally:
        for m, momentum, tracked in saved:
            m.momentum = momentum
            if tracked is not None:
                m.num_batches_tracked.copy_(tracked)
