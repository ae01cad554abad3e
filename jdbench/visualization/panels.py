"""Prediction panels: image | GT seg | pred seg | GT depth | pred depth | depth error, side by side."""
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .colorize import colorize_depth, colorize_seg, depth_error_map

TITLE_HEIGHT = 18
GAP = 4


def _fit(tile: np.ndarray, size: Tuple[int, int], nearest: bool) -> np.ndarray:
    h, w = size
    if tile.shape[:2] == (h, w):
        return tile
    return cv2.resize(tile, (w, h), interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR)


def _titled(tile: np.ndarray, title: str) -> np.ndarray:
    bar = np.full((TITLE_HEIGHT, tile.shape[1], 3), 255, dtype=np.uint8)
    cv2.putText(bar, title, (3, TITLE_HEIGHT - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, tile], axis=0)


def panel_size(height: int, width: int, num_tiles: int) -> Tuple[int, int]:
    """(H, W) of a panel of ``num_tiles`` tiles of ``height × width``."""
    return height + TITLE_HEIGHT, num_tiles * width + (num_tiles - 1) * GAP


def make_panel(image: np.ndarray,
               gt_seg: Optional[np.ndarray] = None,
               pred_seg: Optional[np.ndarray] = None,
               gt_depth: Optional[np.ndarray] = None,
               pred_depth: Optional[np.ndarray] = None,
               palette: Optional[Sequence[Sequence[int]]] = None,
               ignore_index: int = 255,
               depth_max: Optional[float] = None) -> np.ndarray:
    """One RGB uint8 panel; tiles are drawn for what is given, all at the ground truth's size (else the
    image's).

    ``image`` is RGB ``H×W×3``; label maps ``H×W`` class indices; depth maps ``H×W`` metres (0 = invalid). The
    depth tiles share one colour scale (``depth_max`` or the GT's 99th percentile); the error tile is
    ``|pred − GT|`` where GT is valid, its scale written in the title.
    """
    ref = next((a for a in (gt_seg, gt_depth) if a is not None), image)
    size = tuple(np.asarray(ref).shape[:2])
    tiles: List[Tuple[np.ndarray, str]] = [(_fit(np.asarray(image, dtype=np.uint8), size, False), 'image')]
    if gt_seg is not None:
        tiles.append((colorize_seg(_fit(np.asarray(gt_seg), size, True), palette, ignore_index), 'GT seg'))
    if pred_seg is not None:
        tiles.append(
            (colorize_seg(_fit(np.asarray(pred_seg).astype(np.int32), size, True), palette,
                          ignore_index), 'pred seg'))
    if gt_depth is not None or pred_depth is not None:
        vmax = depth_max
        if vmax is None:
            src = np.asarray(gt_depth if gt_depth is not None else pred_depth, dtype=np.float64)
            vmax = float(np.percentile(src[src > 0], 99)) if (src > 0).any() else 1.0
        if gt_depth is not None:
            scale = f' (0-{vmax:.0f} m)' if size[1] >= 160 else ''  # the range fits in wide tiles only
            tiles.append((colorize_depth(_fit(np.asarray(gt_depth, np.float32), size, True), 0,
                                         vmax), f'GT depth{scale}'))
        if pred_depth is not None:
            pred = _fit(np.asarray(pred_depth, np.float32), size, False)
            tiles.append((colorize_depth(pred, 0, vmax), 'pred depth'))
            if gt_depth is not None:
                err, emax = depth_error_map(pred, _fit(np.asarray(gt_depth, np.float32), size, True))
                tiles.append((err, f'|error| (0-{emax:.1f} m)' if size[1] >= 160 else '|error|'))
    cols = []
    for i, (tile, title) in enumerate(tiles):
        if i:
            cols.append(np.full((size[0] + TITLE_HEIGHT, GAP, 3), 255, dtype=np.uint8))
        cols.append(_titled(tile, title))
    return np.concatenate(cols, axis=1)


def save_panel(panel: np.ndarray, path: str) -> str:
    """Write an RGB panel as PNG."""
    import mmcv
    mmcv.imwrite(panel[..., ::-1], path)
    return path
