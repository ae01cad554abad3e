"""Procedural surface textures, one function per :class:`Material`.

Each function takes the :class:`Patch` of pixels showing that material and returns ``(albedo, emission)``,
each (3, k) float32 linear RGB; ``emission`` (lamps, lit windows, reflections; added after lighting) may be
None.
Textures are anchored to street-frame or object-frame coordinates, so they stick to the geometry.
"""
from functools import cached_property
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from .appearance import (P_FLOOR, P_OFF_U, P_OFF_V, P_SHOP, P_SPACING, P_VARIANT, P_WIN_H, P_WIN_W,
                         Appearance)
from .noise import cell_hash, fbm, value_noise
from .raycast import Surface
from .scene import ELLIPSOID, Material, Primitives, Street
from .styles import Lighting

Pair = Tuple[np.ndarray, Optional[np.ndarray]]
f32 = np.float32


class Patch:
    """One material's pixels: the ``sl`` range of ``surf`` (a :class:`Surface` sorted by material), seen from
    the camera at ``origin`` (3,).

    Attributes (lazily gathered): ``p`` street-frame points, ``q`` object-frame points, ``n`` normals,
    ``half`` primitive half sizes (each (3, k)), ``base`` (3, k) albedo, ``prm`` (8, k) texture parameters,
    ``kind`` (k,) primitive kinds and ``view`` (3, k) unit vectors to the camera.
    """

    def __init__(self, sl: slice, surf: Surface, prims: Primitives, appearance: Appearance,
                 lighting: Lighting, street: Street, origin: np.ndarray) -> None:
        self.prims, self.origin = prims, origin
        self.appearance, self.lighting, self.street = appearance, lighting, street
        self.prim = surf.prim[sl]
        self.p, self.q, self.n = surf.point[:, sl], surf.local[:, sl], surf.normal[:, sl]

    def __len__(self) -> int:
        return len(self.prim)

    @cached_property
    def half(self) -> np.ndarray:
        return np.take(self.prims.half.T.astype(f32), self.prim, axis=1)

    @cached_property
    def base(self) -> np.ndarray:
        return np.take(self.appearance.colour.T, self.prim, axis=1)

    @cached_property
    def prm(self) -> np.ndarray:
        return np.take(self.appearance.params, self.prim, axis=1)

    @cached_property
    def kind(self) -> np.ndarray:
        return self.prims.kind.take(self.prim)

    @cached_property
    def view(self) -> np.ndarray:
        r = self.origin[:, None] - self.p
        return r / np.sqrt((r * r).sum(0))

    def along(self) -> np.ndarray:
        """Horizontal coordinate along a vertical face (street Z on faces facing ±X, else X)."""
        return np.where(np.abs(self.n[0]) > np.abs(self.n[2]), self.p[2], self.p[0])

    def specular(self, strength: float, power: float) -> np.ndarray:
        """Blinn-Phong highlight of the sun, (3, k)."""
        hv = self.view + self.lighting.sun_dir[:, None]
        hv /= np.sqrt((hv * hv).sum(0))
        s = np.maximum((self.n * hv).sum(0), 0.0) ** power
        return f32(strength) * self.lighting.sun[:, None] * s


def _frac(x: np.ndarray) -> np.ndarray:
    return x - np.floor(x)


def _mix(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    return a + (b - a) * w


def road(t: Patch) -> Pair:
    """Asphalt with grain and patches; worn lane, edge and crosswalk markings."""
    x, z = t.p[0], t.p[2]
    grain = fbm(x * 2.5, z * 2.5)
    shade = 0.72 + 0.4 * grain + 0.4 * (value_noise(x * 0.15 + 50.0, z * 0.15) - 0.5)
    alb = t.appearance.road[:, None] * shade
    s = t.street
    ax = np.abs(x)
    in_crossing = np.zeros(len(t), bool)
    for z0, z1 in s.crossings:
        in_crossing |= (z > z0) & (z < z1)
    paint = (ax > s.road_half - 0.35) & (ax < s.road_half - 0.2)
    for k in range(1, s.lanes):
        xk = -s.road_half + k * s.lane_width
        line = np.abs(x - xk) < 0.07
        paint |= line if 2 * k == s.lanes else line & (_frac((z + 3.0) / 9.0) < 0.4)
    paint &= ~in_crossing
    for z0, _ in s.crossings:
        paint |= (z > z0 - 4.5) & (z < z0 - 1.0) & (_frac(x / 1.1) < 0.5) & (ax < s.road_half - 0.4)
    paint &= grain > 0.3                                                     # worn off in places
    alb = np.where(paint, t.appearance.paint[:, None] * (0.8 + 0.2 * grain), alb)
    return alb, None


def terrain(t: Patch) -> Pair:
    """Grass blending into dry patches, with fine variation."""
    x, z = t.p[0], t.p[2]
    dry = np.clip(value_noise(x * 0.25 + 100.0, z * 0.25) * 1.6 - 0.5, 0.0, 1.0)
    alb = _mix(t.appearance.grass[:, None], t.appearance.dry[:, None], dry)
    alb = alb * (0.55 + 0.8 * value_noise(x * 6.0, z * 6.0))
    return alb, None


def sidewalk(t: Patch) -> Pair:
    """Paving tiles with grout lines on top, plain concrete on the kerb faces."""
    x, z = t.p[0], t.p[2]
    u, v = x / t.appearance.tile, z / t.appearance.tile
    grout = (_frac(u) < 0.07) | (_frac(v) < 0.07)
    tile = (0.85 + 0.3 * cell_hash(np.floor(u), np.floor(v))) * np.where(grout, 0.6, 1.0)
    top = t.n[1] > 0.5
    shade = np.where(top, tile, 1.2) * (0.85 + 0.3 * value_noise(x * 4.0, z * 4.0 + t.p[1] * 4.0))
    return t.base * shade, None


def facade(t: Patch) -> Pair:
    """Stained walls with a grid of windows per floor (shop fronts on some ground floors); dark roofs.
    Windows reflect the sky and, in styles with ``lit_windows``, some are lit from inside."""
    prm, y = t.prm, t.p[1]
    along = t.along()
    wu, wv = along / prm[P_SPACING], y / prm[P_FLOOR]
    fu, fv, floor = _frac(wu), _frac(wv), np.floor(wv)
    window = (np.abs(fu - 0.5) < prm[P_WIN_W] / 2) & (np.abs(fv - 0.55) < prm[P_WIN_H] / 2) & (floor >= 1)
    shop = (prm[P_SHOP] > 0) & (floor == 0) & (fv > 0.1) & (fv < 0.8) & (np.abs(fu - 0.5) < 0.45)
    glass = (window | shop) & (np.abs(t.n[1]) < 0.5)
    wall = t.base * (0.75 + 0.4 * fbm(along * 0.7 + prm[P_OFF_U], y * 0.7 + prm[P_OFF_V]))
    wall *= np.where(fv < 0.04, 0.8, 1.0)
    cell = cell_hash(np.floor(wu) + prm[P_OFF_U], floor + prm[P_OFF_V])
    alb = np.where(glass, f32(0.04) + 0.04 * cell, wall)
    alb = np.where(t.n[1] > 0.5, f32(0.12), alb)
    reflect = (0.08 + 0.14 * cell) * glass
    lit = glass & (cell_hash(np.floor(wu) + 101.0 + prm[P_OFF_V], floor + prm[P_OFF_U]) <
                   t.lighting.style.lit_windows)
    emission = t.lighting.ambient[:, None] * reflect + np.array([[1.0], [0.72], [0.4]], f32) * (0.5 * lit)
    return alb, emission


def concrete(t: Patch) -> Pair:
    """Walls: staggered bricks (variants 0-3) or concrete panels with seams."""
    along, y = t.along(), t.p[1]
    row = np.floor(y / 0.075)
    u = along / 0.23 + 0.5 * (row % 2)
    mortar = (_frac(y / 0.075) < 0.15) | (_frac(u) < 0.06)
    brick = np.where(mortar, 1.4, 0.8 + 0.35 * cell_hash(np.floor(u), row))
    panel = (0.75 + 0.5 * fbm(along * 1.5, y * 1.5)) * np.where(_frac(along / 2.0) < 0.02, 0.6, 1.0)
    return t.base * np.where(t.prm[P_VARIANT] < 4, brick, panel), None


def fence(t: Patch) -> Pair:
    """Bars with two rails (variants 0-3) or chain-link mesh, dark behind the gaps."""
    along, y = t.along(), t.p[1]
    top = t.q[1] > t.half[1] - 0.06
    rails = top | (np.abs(y - 0.15) < 0.04)
    bars = _frac(along / 0.12) < 0.35
    mesh = (_frac((along + y) / 0.08) < 0.25) | (_frac((along - y) / 0.08) < 0.25)
    solid = rails | np.where(t.prm[P_VARIANT] < 4, bars, mesh)
    return t.base * np.where(solid, 1.0, 0.25), None


def metal(t: Patch) -> Pair:
    """Painted metal with faint streaks and a sun highlight."""
    x, y, z = t.p
    return t.base * (0.8 + 0.35 * value_noise((x + z) * 4.0, y * 3.0)), t.specular(0.25, 20.0)


def sign(t: Patch) -> Pair:
    """Coloured face with a light border and, for some variants, a bar; grey back and edges."""
    rx, ry = t.q[0] / t.half[0], t.q[1] / t.half[1]
    r = np.where(t.kind == ELLIPSOID, np.sqrt(rx * rx + ry * ry), np.maximum(np.abs(rx), np.abs(ry)))
    variant = t.prm[P_VARIANT]
    light = np.array([[0.8], [0.8], [0.78]], f32)
    alb = np.where(r > 0.78, light, t.base)
    bar = (np.abs(ry) < 0.18) & (np.abs(rx) < 0.62) & (variant % 4 >= 2)
    alb = np.where(bar, np.where(variant >= 4, f32(0.03), light), alb)
    front = t.n[2] < -0.5
    return np.where(front, alb, f32(0.3)), 0.1 * alb * front


_LAMPS = np.array([[1.0, 0.05, 0.02], [1.0, 0.5, 0.0], [0.1, 1.0, 0.4]], f32)


def signal(t: Patch) -> Pair:
    """Dark housing with three lamps on the front; one of them (by variant) is lit."""
    front = t.n[2] < -0.5
    dy = t.q[1][None] - np.array([[0.28], [0.0], [-0.28]], f32)
    in_lamp = (dy * dy + t.q[0][None] ** 2 < 0.09 ** 2) & front[None]        # (3, k)
    lit = np.arange(3)[:, None] == (t.prm[P_VARIANT] % 3)[None]
    alb = t.base + (_LAMPS.T @ (in_lamp & ~lit).astype(f32)) * 0.15
    emission = _LAMPS.T @ (in_lamp & lit).astype(f32) * 1.5
    return alb, emission


def foliage(t: Patch) -> Pair:
    """Leafy clumps: high-frequency noise with dark gaps and a yellowish tint varying in patches."""
    x, y, z = t.p
    u, v = x * 3.1 + z * 1.3 + t.prm[P_OFF_U], y * 3.1 + t.prm[P_OFF_V]
    leaves = fbm(u, v, 2)
    clumps = value_noise(u * 0.3, v * 0.3)
    tint = _mix(t.base, t.base * np.array([[1.4], [1.2], [0.6]], f32), clumps)
    return tint * (0.3 + 1.5 * leaves * leaves), None


def bark(t: Patch) -> Pair:
    """Vertically stretched bark noise."""
    x, y, z = t.p
    return t.base * (0.6 + 0.7 * value_noise((x + z) * 9.0 + t.prm[P_OFF_U], y * 1.2)), None


def paint(t: Patch) -> Pair:
    """Car paint with a sun highlight and a sky sheen; rear (red) and front (white) lamps on box ends."""
    q, h = t.q, t.half
    qz, qx, qy = q[2] / h[2], q[0] / h[0], q[1] / h[1]
    lamp = (np.abs(qz) > 0.995) & (np.abs(qx) > 0.72) & (qy > 0.2) & (qy < 0.55) & (t.kind != ELLIPSOID)
    colour = np.where(qz < 0, np.array([[0.7], [0.02], [0.02]], f32), np.array([[0.9], [0.9], [0.8]], f32))
    alb = np.where(lamp, colour, t.base * (0.92 + 0.16 * value_noise(t.p[0] * 3.0, t.p[1] * 3.0)))
    sheen = 0.06 * t.lighting.ambient[:, None] * (0.5 + 0.5 * t.n[1])
    return alb, t.specular(0.6, 30.0) + sheen + 0.2 * colour * lamp


def glass(t: Patch) -> Pair:
    """Dark glass reflecting the sky (blotchy) and the sun."""
    x, y, z = t.p
    reflect = 0.15 + 0.2 * value_noise((x + z) * 0.8, y * 2.0)
    return t.base, t.lighting.ambient[:, None] * reflect + t.specular(0.8, 60.0)


def tyre(t: Patch) -> Pair:
    """Black rubber with a grey hub on the wheel sides."""
    hub = (np.sqrt((t.q[1] / t.half[1]) ** 2 + (t.q[2] / t.half[2]) ** 2) < 0.55) & (t.kind == ELLIPSOID)
    return np.where(hub, f32(0.35), t.base * (0.8 + 0.4 * value_noise(t.p[1] * 8.0, t.p[2] * 8.0))), None


def cloth(t: Patch) -> Pair:
    """Fabric with fine noise."""
    x, y, z = t.p
    return t.base * (0.8 + 0.35 * fbm((x + z) * 8.0 + t.prm[P_OFF_U], y * 8.0)), None


_HAIR = np.array([[0.03, 0.02, 0.01], [0.1, 0.06, 0.03], [0.4, 0.3, 0.15], [0.25, 0.25, 0.25]], f32)


def skin(t: Patch) -> Pair:
    """Faces with hair on the top of the head (colour by variant)."""
    hair = t.q[1] / t.half[1] > 0.3
    return np.where(hair, _HAIR[(t.prm[P_VARIANT] % 4).astype(int)].T, t.base), None


def clutter(t: Patch) -> Pair:
    """Weathered bins and crates."""
    x, y, z = t.p
    return t.base * (0.75 + 0.5 * fbm((x + z) * 3.0, y * 3.0)), None


TEXTURES: Dict[Material, Callable[[Patch], Pair]] = {
    Material.ROAD: road, Material.TERRAIN: terrain, Material.SIDEWALK: sidewalk, Material.FACADE: facade,
    Material.CONCRETE: concrete, Material.FENCE: fence, Material.METAL: metal, Material.SIGN: sign,
    Material.SIGNAL: signal, Material.FOLIAGE: foliage, Material.BARK: bark, Material.PAINT: paint,
    Material.GLASS: glass, Material.TYRE: tyre, Material.SHIRT: cloth, Material.TROUSERS: cloth,
    Material.SKIN: skin, Material.CLUTTER: clutter,
}
