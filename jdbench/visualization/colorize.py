"""Colour label maps with a dataset palette and depth / error maps with matplotlib colour maps (RGB uint8)."""
from typing import Optional, Sequence, Tuple

import numpy as np

#: Colour of pixels without ground truth (ignore label, depth 0) in every picture.
INVALID_RGB: Tuple[int, int, int] = (128, 128, 128)


def default_palette(num_classes: int, seed: int = 0) -> np.ndarray:
    """A fixed random palette (``num_classes × 3`` uint8) for datasets without one."""
    rng = np.random.RandomState(seed)
    return rng.randint(0, 256, size=(num_classes, 3)).astype(np.uint8)


def colorize_seg(label: np.ndarray,
                 palette: Optional[Sequence[Sequence[int]]] = None,
                 ignore_index: int = 255) -> np.ndarray:
    """``H×W`` class indices -> ``H×W×3`` RGB; ``ignore_index`` (and indices without a colour) -> grey."""
    label = np.asarray(label).astype(np.int64)
    pal = np.asarray(
        palette, dtype=np.uint8) if palette is not None else default_palette(max(int(label.max()), 0) + 1)
    out = np.empty(label.shape + (3, ), dtype=np.uint8)
    out[:] = INVALID_RGB
    valid = (label != ignore_index) & (label >= 0) & (label < len(pal))
    out[valid] = pal[label[valid]]
    return out


def _apply_cmap(values: np.ndarray, valid: np.ndarray, vmin: float, vmax: float, cmap: str) -> np.ndarray:
    import matplotlib
    norm = np.clip((values - vmin) / max(vmax - vmin, 1e-12), 0.0, 1.0)
    rgba = matplotlib.colormaps[cmap](np.where(valid, norm, 0.0))
    out = (rgba[..., :3] * 255).round().astype(np.uint8)
    out[~valid] = INVALID_RGB
    return out


def colorize_depth(depth: np.ndarray,
                   vmin: float = 0.0,
                   vmax: Optional[float] = None,
                   cmap: str = 'turbo_r') -> np.ndarray:
    """``H×W`` depth (metres, 0 = invalid) -> RGB; near is red, far is blue with the default ``turbo_r``.

    ``vmax`` defaults to the 99th percentile of the valid depths: a few far pixels do not wash out the rest.
    """
    depth = np.asarray(depth, dtype=np.float64)
    valid = np.isfinite(depth) & (depth > 0)
    if vmax is None:
        vmax = float(np.percentile(depth[valid], 99)) if valid.any() else 1.0
    return _apply_cmap(depth, valid, vmin, vmax, cmap)


def depth_error_map(pred: np.ndarray,
                    gt: np.ndarray,
                    vmax: Optional[float] = None,
                    cmap: str = 'inferno') -> Tuple[np.ndarray, float]:
    """``|pred − gt|`` where the ground truth is valid, coloured from 0 to ``vmax`` (default: its 99th
    percentile); returns the picture and ``vmax``."""
    pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    valid = np.isfinite(gt) & (gt > 0)
    err = np.abs(pred - gt)
    if vmax is None:
        vmax = float(np.percentile(err[valid], 99)) if valid.any() else 1.0
    return _apply_cmap(err, valid, 0.0, vmax, cmap), vmax
