"""A LiDAR-like scan of a SynthDrive scene: the rays of a spinning multi-line scanner, ray cast with the same
kernels and z-buffer as the images (``raycast.py``).

The scanner fires ``lines`` rays at fixed elevations (evenly spaced over ``elevation``) every
``azimuth_step`` degrees over the forward sector ``|azimuth| <= azimuth_half`` (the part of a real 360 degree
sweep that any camera-based use of KITTI keeps). Each hit becomes a point in the scanner frame (KITTI's
velodyne axes: x forward, y left, z up). Rays that hit nothing within ``max_range`` give no point.

Culling uses a virtual pinhole camera at the scanner (``screen_rects``): each primitive's screen rectangle is
turned into a range of scan lines and azimuth columns, so a primitive is only tested against the rays that can
hit it.
"""
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Tuple

import numpy as np

from .camera import Camera
from .raycast import GROUND_ID, SKY_ID, _cast_pairs, _prim_table, screen_rects
from .scene import Primitives

#: Virtual pinhole used for culling: focal length (px per unit tangent) and principal point margin.
_VIRTUAL_F = 1000.0
_NEAR_PASS_DEPTH = 25.0


@dataclass(frozen=True)
class LidarScan:
    """Scan pattern: ``lines`` elevations evenly spaced over ``elevation`` (degrees, up > 0), azimuths every
    ``azimuth_step`` degrees over ``[-azimuth_half, azimuth_half]`` (> 0 = to the right), hits beyond
    ``max_range`` metres dropped. The default is a sparse 32-line scanner covering the HDL-64E's elevations
    (+2 to -24.8 degrees, KITTI's Velodyne) over the forward +-48 degrees."""

    lines: int = 32
    elevation: Tuple[float, float] = (-24.8, 2.0)
    azimuth_step: float = 0.35
    azimuth_half: float = 48.0
    max_range: float = 120.0

    def __post_init__(self) -> None:
        if self.lines < 1 or self.azimuth_step <= 0 or not 0 < self.azimuth_half < 75:
            raise ValueError(f'bad LidarScan {self}: need lines >= 1, azimuth_step > 0 and '
                             '0 < azimuth_half < 75 degrees')
        if not -60 < self.elevation[0] < self.elevation[1] < 30:
            raise ValueError(f'bad LidarScan elevation {self.elevation}: need -60 < low < high < 30 degrees')

    def angles(self) -> Tuple[np.ndarray, np.ndarray]:
        """Elevations (lines,) from the top line down and azimuths (columns,) left to right, radians."""
        return _angles(self)


@lru_cache(maxsize=8)
def _angles(scan: LidarScan) -> Tuple[np.ndarray, np.ndarray]:
    elev = np.deg2rad(np.linspace(scan.elevation[1], scan.elevation[0], scan.lines))
    n = int(np.floor(scan.azimuth_half / scan.azimuth_step))
    azim = np.deg2rad(np.arange(-n, n + 1) * scan.azimuth_step)
    return elev, azim


@lru_cache(maxsize=8)
def _body_rays(scan: LidarScan) -> Tuple[np.ndarray, np.ndarray, np.ndarray, Tuple[float, float, int, int]]:
    """Unit ray directions (3, lines*cols) in the scanner's camera-style axes (right, down, forward), the
    columns' virtual ``u`` (cols,), the lines' ``-tan(elevation)`` (lines,), and the virtual camera's
    ``(u0, v0, W, H)``."""
    elev, azim = _angles(scan)
    ce, se = np.cos(elev)[:, None], np.sin(elev)[:, None]
    d = np.stack([ce * np.sin(azim), np.broadcast_to(-se, (len(elev), len(azim))), ce * np.cos(azim)])
    t_max = np.tan(azim[-1])
    u0 = _VIRTUAL_F * t_max + 4.0
    v_top = -np.tan(elev[0]) / np.cos(azim[-1]) if elev[0] > 0 else -np.tan(elev[0])
    v_bot = -np.tan(elev[-1]) / (np.cos(azim[-1]) if elev[-1] < 0 else 1.0)
    v0 = -_VIRTUAL_F * v_top + 4.0
    virtual = (u0, v0, int(np.ceil(2 * u0)), int(np.ceil(v0 + _VIRTUAL_F * v_bot + 4.0)))
    return d.reshape(3, -1).astype(np.float32), u0 + _VIRTUAL_F * np.tan(azim), -np.tan(elev), virtual


def _ray_ranges(scan: LidarScan, rects: Tuple[np.ndarray, ...]) -> Tuple[np.ndarray, ...]:
    """Scan line range ``i0:i1`` and column range ``j0:j1`` (each (n,)) of the rays inside each virtual
    screen rectangle ``r0, r1, c0, c1`` (end-exclusive virtual pixels)."""
    r0, r1, c0, c1 = rects
    _, azim = _angles(scan)
    _, u_cols, neg_tan, (u0, v0, _, _) = _body_rays(scan)
    j0 = np.searchsorted(u_cols, c0, 'left')
    j1 = np.searchsorted(u_cols, c1, 'left')
    ok = j1 > j0
    jl, jr = np.minimum(j0, len(azim) - 1), np.clip(j1 - 1, 0, len(azim) - 1)
    abs_lo = np.where((azim[jl] <= 0) & (azim[jr] >= 0), 0.0, np.minimum(np.abs(azim[jl]), np.abs(azim[jr])))
    abs_hi = np.maximum(np.abs(azim[jl]), np.abs(azim[jr]))
    a, b = 1.0 / np.cos(abs_lo), 1.0 / np.cos(abs_hi)                          # 1 / cos(azimuth) range
    va = v0 + _VIRTUAL_F * neg_tan[None, :] * a[:, None]                        # (n, lines)
    vb = v0 + _VIRTUAL_F * neg_tan[None, :] * b[:, None]
    inside = (np.maximum(va, vb) >= r0[:, None]) & (np.minimum(va, vb) < r1[:, None]) & ok[:, None]
    any_row = inside.any(1)
    i0 = np.where(any_row, inside.argmax(1), 0)
    i1 = np.where(any_row, inside.shape[1] - inside[:, ::-1].argmax(1), 0)    # rows are contiguous
    j0, j1 = np.where(any_row, j0, 0), np.where(any_row, j1, 0)
    return i0, i1, j0, j1


@dataclass
class ScanHits:
    """One scan: ``points`` (k, 3) float32 in the scanner frame (x forward, y left, z up), ``prim`` (k,)
    primitive index or ``GROUND_ID``, ``ray`` (k,) flat index (line * columns + column) of each hit."""

    points: np.ndarray
    prim: np.ndarray
    ray: np.ndarray


def cast_scan(scan: LidarScan, prims: Primitives, body: Camera) -> ScanHits:
    """Cast ``scan`` from a scanner placed and oriented as ``body`` (a :class:`Camera` whose ``origin`` and
    ``axes()`` are the scanner's; its intrinsics are ignored) and return its :class:`ScanHits`."""
    body_rays, _, _, (u0, v0, w, h) = _body_rays(scan)
    virtual = replace(body, fx=_VIRTUAL_F, fy=_VIRTUAL_F, u0=u0, v0=v0)
    rays = virtual.axes().T.astype(np.float32) @ body_rays                     # (3, R) street frame, unit
    org = virtual.origin.astype(np.float32)
    with np.errstate(divide='ignore'):
        zbuf = np.where(rays[1] < 0, -org[1] / rays[1], np.inf).astype(np.float32)
    *rects, zmin = screen_rects(virtual, *prims.bounds(), (h, w))
    ranges = _ray_ranges(scan, tuple(rects))
    table = _prim_table(virtual, prims, zmin)
    ncols = len(_angles(scan)[1])
    near = zmin < _NEAR_PASS_DEPTH
    passes = [_cast_pairs(rays, zbuf, prims, table, ranges, chosen, ncols) for chosen in (near, ~near)]
    t, prim_of_pair, pix = (np.concatenate(a) for a in zip(*passes))
    prim = np.where(np.isfinite(zbuf), GROUND_ID, SKY_ID).astype(np.int32)
    won = np.flatnonzero(t <= zbuf.take(pix))
    prim[pix.take(won)] = prim_of_pair.take(won)
    ray = np.flatnonzero(zbuf <= scan.max_range)
    dist = zbuf.take(ray)
    d = np.take(body_rays, ray, axis=1)
    # camera-style axes (right, down, forward) -> velodyne axes (forward, left, up)
    points = np.stack([d[2] * dist, -d[0] * dist, -d[1] * dist], axis=1).astype(np.float32)
    return ScanHits(points=points, prim=prim.take(ray), ray=ray)
