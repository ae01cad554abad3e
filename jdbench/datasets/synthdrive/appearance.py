"""Per-object appearance drawn from the appearance random stream: base colours (linear RGB albedo) from a
palette per material and texture parameters per object. Independent of style and image size."""
from dataclasses import dataclass
from typing import Dict

import numpy as np

from .scene import Material, Primitives

M = Material
PALETTES: Dict[Material, np.ndarray] = {m: np.array(p, np.float32) for m, p in {
    M.ROAD: [(0.11, 0.11, 0.11), (0.14, 0.14, 0.15), (0.09, 0.09, 0.1)],
    M.TERRAIN: [(0.1, 0.22, 0.05), (0.16, 0.25, 0.07), (0.22, 0.2, 0.1)],
    M.SIDEWALK: [(0.33, 0.32, 0.3), (0.42, 0.4, 0.36), (0.38, 0.27, 0.24), (0.28, 0.28, 0.3)],
    M.FACADE: [(0.55, 0.5, 0.42), (0.38, 0.38, 0.38), (0.42, 0.19, 0.13), (0.68, 0.66, 0.6),
               (0.3, 0.22, 0.16), (0.52, 0.45, 0.33), (0.24, 0.29, 0.34), (0.6, 0.55, 0.5)],
    M.CONCRETE: [(0.4, 0.39, 0.37), (0.5, 0.48, 0.44), (0.4, 0.2, 0.14), (0.3, 0.3, 0.32)],
    M.FENCE: [(0.3, 0.3, 0.3), (0.12, 0.22, 0.12), (0.38, 0.3, 0.2), (0.55, 0.55, 0.55)],
    M.METAL: [(0.35, 0.35, 0.35), (0.18, 0.2, 0.18), (0.5, 0.5, 0.5), (0.25, 0.25, 0.28)],
    M.SIGN: [(0.6, 0.04, 0.04), (0.04, 0.14, 0.55), (0.75, 0.6, 0.04), (0.75, 0.75, 0.75), (0.04, 0.35, 0.1)],
    M.SIGNAL: [(0.04, 0.04, 0.04), (0.1, 0.1, 0.05), (0.06, 0.08, 0.06)],
    M.FOLIAGE: [(0.08, 0.2, 0.04), (0.12, 0.25, 0.06), (0.06, 0.15, 0.05), (0.18, 0.22, 0.06),
                (0.1, 0.17, 0.08)],
    M.BARK: [(0.2, 0.14, 0.09), (0.15, 0.12, 0.1), (0.25, 0.2, 0.15)],
    M.PAINT: [(0.8, 0.8, 0.8), (0.03, 0.03, 0.03), (0.45, 0.46, 0.48), (0.2, 0.2, 0.22), (0.5, 0.04, 0.03),
              (0.04, 0.1, 0.4), (0.05, 0.2, 0.1), (0.6, 0.5, 0.3), (0.7, 0.45, 0.03), (0.6, 0.6, 0.62)],
    M.GLASS: [(0.05, 0.06, 0.08), (0.03, 0.04, 0.05)],
    M.TYRE: [(0.03, 0.03, 0.03), (0.05, 0.05, 0.05)],
    M.SHIRT: [(0.6, 0.1, 0.1), (0.1, 0.2, 0.5), (0.7, 0.7, 0.7), (0.05, 0.05, 0.05), (0.2, 0.4, 0.2),
              (0.7, 0.55, 0.1), (0.4, 0.3, 0.5), (0.5, 0.35, 0.25), (0.3, 0.3, 0.3)],
    M.TROUSERS: [(0.05, 0.06, 0.12), (0.15, 0.15, 0.15), (0.3, 0.25, 0.18), (0.04, 0.04, 0.04),
                 (0.1, 0.12, 0.25)],
    M.SKIN: [(0.6, 0.42, 0.32), (0.45, 0.3, 0.2), (0.25, 0.15, 0.1), (0.7, 0.55, 0.45)],
    M.CLUTTER: [(0.1, 0.25, 0.12), (0.3, 0.3, 0.3), (0.05, 0.12, 0.3), (0.35, 0.25, 0.15)],
}.items()}

#: Rows of :attr:`Appearance.params`.
P_SPACING, P_FLOOR, P_WIN_W, P_WIN_H, P_SHOP, P_VARIANT, P_OFF_U, P_OFF_V = range(8)


@dataclass
class Appearance:
    """``colour`` (n, 3) base albedo per primitive and ``params`` (8, n) texture parameters per primitive
    (shared by the primitives of one object): window spacing, floor height, window width/height fractions,
    shop-front flag, a variant in [0, 8) and a texture offset (u, v). Scene-wide: ``road``/``paint``/
    ``grass``/``dry`` albedos and the paving ``tile`` size in metres."""

    colour: np.ndarray
    params: np.ndarray
    road: np.ndarray
    paint: np.ndarray
    grass: np.ndarray
    dry: np.ndarray
    tile: float


_PALETTE_SIZES = np.array([len(PALETTES[m]) for m in Material])
_PALETTE_TABLE = np.zeros((len(Material), _PALETTE_SIZES.max(), 3), np.float32)
for _m in Material:
    _PALETTE_TABLE[_m, :len(PALETTES[_m])] = PALETTES[_m]


def sample_appearance(prims: Primitives, rng: np.random.Generator) -> Appearance:
    """Draw colours and texture parameters; the draws depend only on the number of objects and primitives.
    Every (object, material) pair gets one palette colour with a ±20 % per-channel jitter."""
    groups = int(prims.group.max()) + 1 if len(prims) else 0
    pick = (rng.random((len(Material), groups)) * _PALETTE_SIZES[:, None]).astype(np.int64)
    jitter = rng.uniform(0.8, 1.2, (len(Material), groups, 3)).astype(np.float32)
    mat, grp = prims.material.astype(np.int64), prims.group
    colour = _PALETTE_TABLE[mat, pick[mat, grp]] * jitter[mat, grp]
    per_group = np.stack([
        rng.uniform(1.6, 3.6, groups), rng.uniform(2.8, 3.8, groups), rng.uniform(0.35, 0.7, groups),
        rng.uniform(0.4, 0.7, groups), rng.random(groups) < 0.5, rng.integers(0, 8, groups),
        rng.uniform(0, 256, groups), rng.uniform(0, 256, groups)]).astype(np.float32)
    return Appearance(
        colour=np.clip(colour, 0.0, 1.0), params=np.ascontiguousarray(per_group[:, grp]),
        road=PALETTES[M.ROAD][rng.integers(3)] * np.float32(rng.uniform(0.8, 1.3)),
        paint=np.float32(rng.uniform(0.55, 0.8)) * np.array([1.0, 1.0, 0.95], np.float32),
        grass=PALETTES[M.TERRAIN][rng.integers(2)], dry=PALETTES[M.TERRAIN][2],
        tile=rng.uniform(0.3, 0.6))
