"""Sun shadows on the ground: every primitive's shadow is rasterised into a top-down map of the street
(a convex hull of its footprint swept along the sun direction), then looked up at ground hit points."""
from typing import Tuple

import cv2
import numpy as np

from .classes import SIDEWALK
from .scene import BOX, Primitives

#: Size (m) of a shadow-map cell.
RESOLUTION = 0.25
#: Shadows are not drawn longer than this many metres per metre of height (sun elevation >= ~6 degrees).
MAX_SLOPE = 10.0
#: The map covers at most ±MAX_EXTENT metres (beyond, the border value is repeated).
MAX_EXTENT = 150.0
#: Only points this close to the road plane (ground, sidewalk tops) receive shadows.
RECEIVER_HEIGHT = 0.3

_ANGLES = np.linspace(0.0, 2 * np.pi, 8, endpoint=False)
_BOX_CORNERS = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]] * 2, np.float64)       # (8, 2), repeated
_ROUND = np.stack([np.cos(_ANGLES), np.sin(_ANGLES)], axis=1)                          # (8, 2)


def _footprints(prims: Primitives) -> np.ndarray:
    """Eight points (n, 8, 2) in XZ around each primitive's footprint (boxes: corners; others: an octagon)."""
    unit = np.where((prims.kind == BOX)[:, None, None], _BOX_CORNERS[None], _ROUND[None])
    lx, lz = unit[..., 0] * prims.half[:, None, 0], unit[..., 1] * prims.half[:, None, 2]
    c, s = np.cos(prims.yaw)[:, None], np.sin(prims.yaw)[:, None]
    x, z = prims.centre[:, None, 0], prims.centre[:, None, 2]
    return np.stack([x + c * lx + s * lz, z - s * lx + c * lz], -1)


def shadow_map(prims: Primitives, sun_dir: np.ndarray, x_range: Tuple[float, float],
               z_range: Tuple[float, float]) -> np.ndarray:
    """Top-down uint8 map over ``x_range`` × ``z_range`` (rows = Z, columns = X) of the sun's occlusion
    on the ground, 255 = shadow."""
    rows = int(np.ceil((z_range[1] - z_range[0]) / RESOLUTION))
    cols = int(np.ceil((x_range[1] - x_range[0]) / RESOLUTION))
    grid = np.zeros((rows, cols), np.uint8)
    shift = -np.array([sun_dir[0], sun_dir[2]]) / max(float(sun_dir[1]), 1.0 / MAX_SLOPE)
    casters = (prims.label != SIDEWALK) & (prims.centre[:, 1] + prims.half[:, 1] > RECEIVER_HEIGHT)
    sub = np.flatnonzero(casters)
    foot = _footprints(Primitives(*(getattr(prims, f)[sub] for f in Primitives.__dataclass_fields__)))
    y0 = np.maximum(prims.centre[sub, 1] - prims.half[sub, 1], 0.0)[:, None, None]
    y1 = (prims.centre[sub, 1] + prims.half[sub, 1])[:, None, None]
    pts = np.concatenate([foot + y0 * shift, foot + y1 * shift], axis=1)                # (m, 16, 2)
    pts = ((pts - [x_range[0], z_range[0]]) / RESOLUTION * 16).round().astype(np.int32)  # 4 fractional bits
    lo, hi = pts.min(1), pts.max(1)
    inside = (hi[:, 0] >= 0) & (lo[:, 0] < cols * 16) & (hi[:, 1] >= 0) & (lo[:, 1] < rows * 16)
    for p in pts[inside]:
        cv2.fillConvexPoly(grid, cv2.convexHull(p), 255, lineType=cv2.LINE_8, shift=4)
    return grid


def ground_shadow(prims: Primitives, sun_dir: np.ndarray, point: np.ndarray,
                  snap: bool = False) -> np.ndarray:
    """Sun occlusion in [0, 1] at street-frame ``point`` (3, k) (0 above :data:`RECEIVER_HEIGHT`), bilinear
    between map cells so shadow edges are soft over about one cell. ``snap`` puts the map's corner on the
    street-frame lattice of :data:`RESOLUTION` cells, so the same shadow is drawn whatever the view."""
    out = np.zeros(point.shape[1], np.float32)
    low = np.flatnonzero(point[1] < RECEIVER_HEIGHT)
    if not len(low) or sun_dir[1] <= 0:
        return out
    x, z = point[0].take(low), point[2].take(low)
    x_range = (max(float(x.min()), -MAX_EXTENT) - 1.0, min(float(x.max()), MAX_EXTENT) + 1.0)
    z_range = (max(float(z.min()), -MAX_EXTENT) - 1.0, min(float(z.max()), MAX_EXTENT) + 1.0)
    if snap:
        x_range = (np.floor(x_range[0] / RESOLUTION) * RESOLUTION, x_range[1])
        z_range = (np.floor(z_range[0] / RESOLUTION) * RESOLUTION, z_range[1])
    grid = shadow_map(prims, sun_dir, x_range, z_range)
    # bilinear look-up with cv2.remap, whose maps must be narrower than 32767: fold them into rows of 1024
    k = len(low)
    u = np.zeros(-(-k // 1024) * 1024, np.float32)
    v = np.zeros_like(u)
    u[:k] = (x - x_range[0]) / RESOLUTION - 0.5
    v[:k] = (z - z_range[0]) / RESOLUTION - 0.5
    looked = cv2.remap(grid, u.reshape(-1, 1024), v.reshape(-1, 1024), cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
    out[low] = looked.ravel()[:k] * np.float32(1.0 / 255.0)
    return out
