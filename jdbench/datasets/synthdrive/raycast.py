"""Vectorised ray casting of a SynthDrive scene: every pixel-centre ray against the road plane and against
the primitives whose screen-space bounds cover it; the nearest hit wins.

Each primitive is first clipped to the camera's near plane and projected, so it is only tested against the
pixels of its screen rectangle. Intersections are computed for all (pixel, primitive) pairs of one kind in one
numpy expression and resolved with a scatter-min z-buffer.
"""
from dataclasses import dataclass
from typing import Sequence, Tuple

import numpy as np

from .camera import Camera
from .scene import BOX, CYLINDER, ELLIPSOID, Primitives

NEAR = 0.05
GROUND_ID, SKY_ID = -1, -2

# The 12 edges of a box whose corners are indexed by bits (x, y, z).
_EDGES = np.array([(a, a | bit) for bit in (1, 2, 4) for a in range(8) if not a & bit])
_CORNER_BITS = np.array([[(i >> k) & 1 for k in range(3)] for i in range(8)], dtype=bool)


@dataclass
class Hits:
    """Per-pixel result of ray casting ``N = H*W`` rays from ``origin`` (3,).

    ``depth`` (N,) float32 z-depth (inf for sky); ``prim`` (N,) int32 primitive index, ``GROUND_ID`` or
    ``SKY_ID``; ``rays`` (3, N) float32 ray directions with a unit component along the optical axis.
    """

    depth: np.ndarray
    prim: np.ndarray
    rays: np.ndarray
    origin: np.ndarray

    def points(self, idx: np.ndarray) -> np.ndarray:
        """Street-frame hit points (3, k) of the (non-sky) pixels ``idx`` (k,)."""
        return self.origin[:, None] + self.depth.take(idx) * np.take(self.rays, idx, axis=1)


@dataclass
class Surface:
    """Surface geometry at ``k`` hit pixels: ``prim`` (k,) primitive or ``GROUND_ID``, street-frame ``point``,
    ``local`` point in the primitive's frame (the street frame on the ground) and unit ``normal``, each
    (3, k) float32."""

    prim: np.ndarray
    point: np.ndarray
    local: np.ndarray
    normal: np.ndarray


def screen_rects(camera: Camera, lo: np.ndarray, hi: np.ndarray,
                 size: Tuple[int, int]) -> Tuple[np.ndarray, ...]:
    """Screen rectangles of the boxes ``lo..hi`` (n, 3) after clipping them to the near plane.

    Returns ``r0, r1, c0, c1`` (each (n,), end-exclusive pixel rows/columns clipped to the image, empty when
    unseen) that contain every pixel centre whose ray can hit the box, and ``zmin`` (n,), a lower bound of
    the z-depth of any such hit.
    """
    h, w = size
    corners = np.where(_CORNER_BITS[None], hi[:, None], lo[:, None])                  # (n, 8, 3)
    cam = (corners - camera.origin) @ camera.axes().T                                  # camera frame
    za, zb = cam[:, _EDGES[:, 0], 2], cam[:, _EDGES[:, 1], 2]
    crosses = (za < NEAR) != (zb < NEAR)
    with np.errstate(divide='ignore', invalid='ignore'):
        s = np.where(crosses, (NEAR - za) / (zb - za), 0.0)[..., None]
        cut = cam[:, _EDGES[:, 0]] + s * (cam[:, _EDGES[:, 1]] - cam[:, _EDGES[:, 0]])
        pts = np.concatenate([cam, cut], axis=1)                                       # (n, 20, 3)
        ok = np.concatenate([cam[..., 2] >= NEAR, crosses], axis=1)
        z = np.maximum(pts[..., 2], NEAR)
        u = camera.u0 + camera.fx * pts[..., 0] / z
        v = camera.v0 + camera.fy * pts[..., 1] / z
    big = 1e9
    u_lo, u_hi = np.where(ok, u, big).min(1), np.where(ok, u, -big).max(1)
    v_lo, v_hi = np.where(ok, v, big).min(1), np.where(ok, v, -big).max(1)
    zmin = np.where(ok, z, big).min(1)
    c0 = np.clip(np.ceil(u_lo) - 1, 0, w).astype(np.int64)
    c1 = np.clip(np.floor(u_hi) + 2, 0, w).astype(np.int64)
    r0 = np.clip(np.ceil(v_lo) - 1, 0, h).astype(np.int64)
    r1 = np.clip(np.floor(v_hi) + 2, 0, h).astype(np.int64)
    empty = (c1 <= c0) | (r1 <= r0)
    r1[empty] = r0[empty]
    c1[empty] = c0[empty]
    return r0, r1, c0, c1, zmin


def rect_pairs(r0: np.ndarray, r1: np.ndarray, c0: np.ndarray, c1: np.ndarray,
               width: int) -> Tuple[np.ndarray, np.ndarray]:
    """All (item, flat pixel) pairs covered by the rectangles (n,), as two int arrays of equal length."""
    rows_per = r1 - r0
    item_of_row = np.repeat(np.arange(len(r0)), rows_per)
    row_start = np.cumsum(rows_per) - rows_per
    row = r0[item_of_row] + np.arange(len(item_of_row)) - row_start[item_of_row]
    run = (c1 - c0)[item_of_row]
    run_start = np.cumsum(run) - run
    first = row * width + c0[item_of_row]
    rep = np.repeat(np.arange(len(row)), run)
    pix = first.take(rep) + np.arange(len(rep)) - run_start.take(rep)
    return item_of_row.take(rep), pix


Vec = Tuple[np.ndarray, np.ndarray, np.ndarray]


def _slab(o: np.ndarray, d: np.ndarray, h: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Entry and exit parameters of rays ``o + t d`` through the slab ``|x| <= h`` (one axis)."""
    with np.errstate(divide='ignore', invalid='ignore'):
        inv = 1.0 / d
        a = (-h - o) * inv
        b = (h - o) * inv
    return np.minimum(a, b), np.maximum(a, b)


def intersect_boxes(o: Vec, d: Vec, half: Vec) -> np.ndarray:
    """Slab test. ``o``, ``d``: ray origins and directions (x, y, z components, each (k,)) in box-local
    frames; ``half``: the boxes' half extents. Returns the entry parameter (k,), inf where the ray misses or
    enters behind ``NEAR``."""
    (nx, fx), (ny, fy), (nz, fz) = (_slab(*a) for a in zip(o, d, half))
    t_in = np.maximum(np.maximum(nx, ny), nz)
    t_out = np.minimum(np.minimum(fx, fy), fz)
    return np.where((t_in <= t_out) & (t_in > NEAR), t_in, np.inf)


def intersect_cylinders(o: Vec, d: Vec, half: Vec) -> np.ndarray:
    """Vertical capped cylinders centred at the local origin: radius ``half[0]``, half height ``half[1]``.
    Same conventions as :func:`intersect_boxes`; the top cap is included, the bottom one is never seen."""
    (ox, oy, oz), (dx, dy, dz), (r, hh, _) = o, d, half
    with np.errstate(divide='ignore', invalid='ignore'):      # vertical rays (a = 0) only meet the cap
        a = dx * dx + dz * dz
        tc = -(ox * dx + oz * dz) / a
        px, pz = ox + tc * dx, oz + tc * dz
        h2 = r * r - (px * px + pz * pz)
        t_side = tc - np.sqrt(h2 / a)
        side = (h2 >= 0) & (np.abs(oy + t_side * dy) <= hh) & (t_side > NEAR)
        t_cap = (hh - oy) / dy
        cx, cz = ox + t_cap * dx, oz + t_cap * dz
        cap = (oy > hh) & (cx * cx + cz * cz <= r * r) & (t_cap > NEAR)
    return np.minimum(np.where(side, t_side, np.inf), np.where(cap, t_cap, np.inf))


def intersect_ellipsoids(o: Vec, d: Vec, half: Vec) -> np.ndarray:
    """Ellipsoids with radii ``half`` centred at the local origin, in the closest-approach form (stable in
    float32 for small, far objects). Same conventions as :func:`intersect_boxes`."""
    o = [a / r for a, r in zip(o, half)]
    d = [a / r for a, r in zip(d, half)]
    a = d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
    tc = -(o[0] * d[0] + o[1] * d[1] + o[2] * d[2]) / a
    p = [oi + tc * di for oi, di in zip(o, d)]
    h2 = 1.0 - (p[0] * p[0] + p[1] * p[1] + p[2] * p[2])
    with np.errstate(invalid='ignore'):
        t = tc - np.sqrt(h2 / a)
    return np.where((h2 >= 0) & (t > NEAR), t, np.inf)


#: (kind, turned, kernel): primitive groups cast together; unturned ones skip rotating the rays.
_GROUPS = ((BOX, False, intersect_boxes), (BOX, True, intersect_boxes),
           (CYLINDER, False, intersect_cylinders),
           (ELLIPSOID, False, intersect_ellipsoids), (ELLIPSOID, True, intersect_ellipsoids))
#: Primitives whose nearest point is closer than this are cast first, so they occlude the far ones.
_NEAR_PASS_DEPTH = 25.0


def _prim_table(camera: Camera, prims: Primitives, zmin: np.ndarray) -> np.ndarray:
    """Per primitive (float32 rows of a (9, n) table): the camera origin in its local frame (3), its half
    sizes (3), ``cos``/``sin`` of its yaw and ``zmin``, the lower bound of its hits' z-depth."""
    cos, sin = np.cos(prims.yaw), np.sin(prims.yaw)
    rel = camera.origin - prims.centre
    lx, lz = cos * rel[:, 0] - sin * rel[:, 2], sin * rel[:, 0] + cos * rel[:, 2]
    return np.stack([lx, rel[:, 1], lz, *prims.half.T, cos, sin, zmin]).astype(np.float32)


def _cast_pairs(rays: np.ndarray, zbuf: np.ndarray, prims: Primitives, table: np.ndarray,
                rects: Sequence[np.ndarray], chosen: np.ndarray,
                width: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intersect the ``chosen`` primitives (mask (n,)) with the pixels of their screen rectangles ``rects``
    (``r0, r1, c0, c1``) that they may still win, lower ``zbuf`` (N,) in place and return the hits as
    ``(t, prim, pix)``."""
    turned = prims.yaw != 0
    out = []
    for kind, rotate, kernel in _GROUPS:
        idx = np.flatnonzero(chosen & (prims.kind == kind) & (turned == rotate))
        item, pix = rect_pairs(*(r.take(idx) for r in rects), width)
        prim = idx.take(item)
        keep = np.flatnonzero(table[8].take(prim) < zbuf.take(pix))   # not behind what is there (e.g. road)
        if not len(keep):
            continue
        prim, pix = prim.take(keep), pix.take(keep)
        a = np.take(table[:8 if rotate else 6], prim, axis=1)
        dx, dy, dz = np.take(rays, pix, axis=1)
        if rotate:
            dx, dz = a[6] * dx - a[7] * dz, a[7] * dx + a[6] * dz
        t = kernel((a[0], a[1], a[2]), (dx, dy, dz), (a[3], a[4], a[5]))
        hit = np.flatnonzero(t < zbuf.take(pix))
        t, prim, pix = t.take(hit), prim.take(hit), pix.take(hit)
        np.minimum.at(zbuf, pix, t)
        out.append((t, prim, pix))
    if not out:
        return np.zeros(0, np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64)
    return tuple(np.concatenate(a) for a in zip(*out))


def _object_surface(prims: Primitives, prim: np.ndarray, point: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Local hit points and street-frame normals, each (3, k) float32, of hits ``point`` (3, k) on the
    primitives ``prim`` (k,)."""
    f32 = np.float32
    cos, sin = np.cos(prims.yaw).astype(f32).take(prim), np.sin(prims.yaw).astype(f32).take(prim)
    rx, ry, rz = (point[i] - prims.centre[:, i].astype(f32).take(prim) for i in range(3))
    lx, lz = cos * rx - sin * rz, sin * rx + cos * rz
    hx, hy, hz = (prims.half[:, i].astype(f32).take(prim) for i in range(3))
    kind = prims.kind.take(prim)
    qx, qy, qz = lx / hx, ry / hy, lz / hz
    # boxes: the face whose slab the point lies on
    ax, ay, az = np.abs(qx), np.abs(qy), np.abs(qz)
    on_x = (ax >= ay) & (ax >= az)
    on_y = ~on_x & (ay >= az)
    on_z = ~on_x & ~on_y
    nx, ny, nz = np.sign(qx) * on_x, np.sign(qy) * on_y, np.sign(qz) * on_z
    # ellipsoids: the gradient of the implicit function
    ell = kind == ELLIPSOID
    nx, ny, nz = np.where(ell, qx / hx, nx), np.where(ell, qy / hy, ny), np.where(ell, qz / hz, nz)
    # cylinders: the top cap or radial
    cyl = kind == CYLINDER
    cap = cyl & (ry >= hy * f32(1 - 1e-4))
    side = cyl & ~cap
    nx, ny, nz = np.where(side, lx, nx), np.where(cyl, cap.astype(f32), ny), np.where(side, lz, nz)
    norm = np.maximum(np.sqrt(nx * nx + ny * ny + nz * nz), f32(1e-12))
    nx, ny, nz = nx / norm, ny / norm, nz / norm
    normal = np.stack([cos * nx + sin * nz, ny, -sin * nx + cos * nz])
    return np.stack([lx, ry, lz]), normal


def surface_at(hits: Hits, prims: Primitives, idx: np.ndarray) -> Surface:
    """The :class:`Surface` at the non-sky pixels ``idx`` (k,) of ``hits`` (fastest when the object pixels
    form one contiguous run of ``idx``, e.g. after sorting by material)."""
    point = hits.points(idx)
    prim = hits.prim.take(idx)
    local, normal = point.copy(), np.zeros_like(point)
    normal[1] = 1.0
    obj = np.flatnonzero(prim >= 0)
    if len(obj) and obj[-1] - obj[0] + 1 == len(obj):
        sl = slice(obj[0], obj[-1] + 1)
        local[:, sl], normal[:, sl] = _object_surface(prims, prim[sl], point[:, sl])
    elif len(obj):
        loc, nrm = _object_surface(prims, prim.take(obj), np.take(point, obj, axis=1))
        for c in range(3):
            local[c, obj], normal[c, obj] = loc[c], nrm[c]
    return Surface(prim, point, local, normal)


def cast(camera: Camera, prims: Primitives, size: Tuple[int, int]) -> Hits:
    """Ray cast ``prims`` and the road plane Y = 0 from ``camera`` over an image of ``size = (H, W)``."""
    w = size[1]
    rays = camera.rays(size)                                                             # (3, N) float32
    origin = camera.origin.astype(np.float32)
    with np.errstate(divide='ignore'):
        zbuf = np.where(rays[1] < 0, -origin[1] / rays[1], np.inf).astype(np.float32)
    *rects, zmin = screen_rects(camera, *prims.bounds(), size)
    table = _prim_table(camera, prims, zmin)
    near = zmin < _NEAR_PASS_DEPTH
    passes = [_cast_pairs(rays, zbuf, prims, table, rects, chosen, w) for chosen in (near, ~near)]
    t, prim_of_pair, pix = (np.concatenate(a) for a in zip(*passes))
    prim = np.where(np.isfinite(zbuf), GROUND_ID, SKY_ID).astype(np.int32)
    won = np.flatnonzero(t <= zbuf.take(pix))
    prim[pix.take(won)] = prim_of_pair.take(won)
    return Hits(depth=zbuf, prim=prim, rays=rays, origin=origin)
