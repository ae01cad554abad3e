"""Sampling of street furniture and greenery: poles with lamps, signs and traffic lights, sign posts,
trees, bushes, hedges, walls and fences in the gaps between buildings, and unlabelled clutter."""
from typing import Sequence, Tuple

import numpy as np

from .classes import FENCE, IGNORE, POLE, TRAFFIC_LIGHT, TRAFFIC_SIGN, VEGETATION, WALL
from .layout import free_spans
from .scene import Material, SceneBuilder, Street


def add_sign(b: SceneBuilder, rng: np.random.Generator, x: float, z: float, y: float) -> None:
    """A thin sign plate (rectangle or disc) facing the camera (-Z), centred at ``(x, y, z)``."""
    size = rng.uniform(0.22, 0.4)
    if rng.random() < 0.5:
        b.ellipsoid((x, y, z), (size, size, 0.012), TRAFFIC_SIGN, Material.SIGN)
    else:
        aspect = rng.uniform(0.7, 1.5)
        b.box((x - size * aspect, y - size, z - 0.012), (x + size * aspect, y + size, z + 0.012),
              TRAFFIC_SIGN, Material.SIGN)


def add_traffic_light(b: SceneBuilder, x: float, z: float, y: float) -> None:
    """A traffic-light housing (0.3 × 0.9 × 0.25 m) facing -Z, centred at ``(x, y, z)``."""
    b.box((x - 0.15, y - 0.45, z - 0.125), (x + 0.15, y + 0.45, z + 0.125), TRAFFIC_LIGHT, Material.SIGNAL)


def add_pole(b: SceneBuilder, rng: np.random.Generator, x: float, z: float, side: int) -> None:
    """A kerb-side pole: bare, a street lamp with an arm over the road, or with signs / a traffic light."""
    radius, height = rng.uniform(0.05, 0.13), rng.uniform(3.5, 9.0)
    b.begin()
    b.cylinder(x, z, 0.0, height, radius, POLE, Material.METAL)
    front = z - radius - 0.02
    kind = rng.random()
    if kind < 0.35:
        arm = rng.uniform(1.0, 2.5)
        xa = x - side * arm
        b.box((min(x, xa), height - 0.12, z - 0.05), (max(x, xa), height - 0.04, z + 0.05), POLE,
              Material.METAL)
        b.box((xa - 0.25, height - 0.2, z - 0.12), (xa + 0.25, height - 0.08, z + 0.12), POLE, Material.METAL)
    elif kind < 0.7:
        y = rng.uniform(2.0, 3.0)
        add_sign(b, rng, x, front - 0.012, y)
        if rng.random() < 0.35:
            add_sign(b, rng, x, front - 0.012, y + 0.9)
    elif kind < 0.9:
        add_traffic_light(b, x, front - 0.125, rng.uniform(2.4, min(3.6, height - 0.5)))


def add_sign_post(b: SceneBuilder, rng: np.random.Generator, x: float, z: float) -> None:
    """A thin, short post (2.2-3.2 m) with one sign on top."""
    radius, height = rng.uniform(0.03, 0.05), rng.uniform(2.2, 3.2)
    b.begin()
    b.cylinder(x, z, 0.0, height, radius, POLE, Material.METAL)
    add_sign(b, rng, x, z - radius - 0.015, height - 0.3)


def add_tree(b: SceneBuilder, rng: np.random.Generator, x: float, z: float) -> None:
    """Trunk (cylinder) and one or two crowns (ellipsoids), all vegetation; the crown starts above 1.8 m."""
    trunk = rng.uniform(2.2, 4.0)
    rxz, ry = rng.uniform(1.2, 3.0), rng.uniform(1.3, 3.0)
    b.begin()
    b.cylinder(x, z, 0.0, trunk + 0.3 * ry, rng.uniform(0.12, 0.28), VEGETATION, Material.BARK)
    b.ellipsoid((x, trunk + 0.8 * ry, z), (rxz, ry, rxz * rng.uniform(0.8, 1.2)), VEGETATION,
                Material.FOLIAGE)
    if rng.random() < 0.5:
        dx, dz = rng.uniform(-0.6, 0.6, size=2) * rxz
        r = 0.7 * rxz
        b.ellipsoid((x + dx, trunk + 1.2 * ry, z + dz), (r, 0.7 * ry, r), VEGETATION, Material.FOLIAGE)


def add_bush(b: SceneBuilder, rng: np.random.Generator, x: float, z: float) -> None:
    """A bush: an ellipsoid (0.4-1.2 m radii) sunk a little into the ground."""
    radii = (rng.uniform(0.4, 1.2), rng.uniform(0.4, 1.0), rng.uniform(0.4, 1.2))
    b.begin()
    b.ellipsoid((x, 0.6 * radii[1], z), radii, VEGETATION, Material.FOLIAGE)


def add_gap_barrier(b: SceneBuilder, rng: np.random.Generator, x: float, z0: float, z1: float) -> None:
    """Across a gap between buildings at ``x``: a wall, a fence or a hedge (or nothing)."""
    kind = rng.random()
    b.begin()
    if kind < 0.3:
        h, t = rng.uniform(0.6, 2.4), rng.uniform(0.15, 0.3)
        b.box((x - t, 0.0, z0), (x + t, h, z1), WALL, Material.CONCRETE)
    elif kind < 0.6:
        h = rng.uniform(0.9, 2.0)
        b.box((x - 0.03, 0.0, z0), (x + 0.03, h, z1), FENCE, Material.FENCE)
    elif kind < 0.8:
        h, t = rng.uniform(0.8, 1.8), rng.uniform(0.4, 0.8)
        b.box((x - t, 0.0, z0), (x + t, h, z1), VEGETATION, Material.FOLIAGE)


def add_clutter(b: SceneBuilder, rng: np.random.Generator, x: float, z: float) -> None:
    """A bin or a crate with no Cityscapes class (label 255 = ignore)."""
    b.begin()
    if rng.random() < 0.5:
        b.cylinder(x, z, 0.0, rng.uniform(0.8, 1.1), rng.uniform(0.22, 0.35), IGNORE, Material.CLUTTER)
    else:
        s = rng.uniform(0.25, 0.5)
        b.box((x - s, 0.0, z - s), (x + s, rng.uniform(0.5, 1.2), z + s), IGNORE, Material.CLUTTER,
              yaw=rng.uniform(0, np.pi))


def spaced(rng: np.random.Generator, spans: Sequence[Tuple[float, float]], gap: Tuple[float, float],
           margin: float = 0.5) -> np.ndarray:
    """Positions along Z spaced by ``gap`` (min, max) within ``spans``, kept ``margin`` inside them."""
    out = []
    for z0, z1 in spans:
        z = z0 + margin + rng.uniform(0.0, gap[1])
        while z < z1 - margin:
            out.append(z)
            z += rng.uniform(*gap)
    return np.array(out)


def add_side_furniture(b: SceneBuilder, rng: np.random.Generator, street: Street, side: int, walk: float,
                       grass: float, gaps: Sequence[Tuple[float, float]]) -> None:
    """Everything on one side's sidewalk and verge; ``walk``/``grass`` are the sidewalk/verge widths."""
    spans = list(free_spans(street, -10.0, street.z_end))
    kerb = street.road_half + rng.uniform(0.3, 0.6)
    for z in spaced(rng, spans, (12.0, 28.0)):
        add_pole(b, rng, side * kerb, z, side)
    for z in rng.uniform(2.0, street.z_end, size=int(rng.integers(0, 4))):
        add_sign_post(b, rng, side * (street.road_half + rng.uniform(0.3, walk - 0.2)), z)
    outer = street.road_half + walk
    if rng.random() < 0.65:
        x_tree = outer + grass / 2 if grass > 0 else street.road_half + 0.75 * walk
        for z in spaced(rng, spans, (7.0, 16.0)):
            add_tree(b, rng, side * (x_tree + rng.uniform(-0.3, 0.3)), z)
    if grass > 0:
        if rng.random() < 0.3:
            for z0, z1 in spans:
                b.begin()
                b.box((min(side * outer, side * (outer + 0.8)), 0.0, z0),
                      (max(side * outer, side * (outer + 0.8)), rng.uniform(0.6, 1.4), z1), VEGETATION,
                      Material.FOLIAGE)
        for z in rng.uniform(0.0, street.z_end, size=int(rng.integers(0, 5))):
            add_bush(b, rng, side * (outer + rng.uniform(0.3, grass)), z)
    for z0, z1 in gaps:
        add_gap_barrier(b, rng, side * (outer + grass + 0.3), z0, z1)
        if rng.random() < 0.5:
            add_tree(b, rng, side * (outer + grass + rng.uniform(3.0, 8.0)), (z0 + z1) / 2)
    for z in rng.uniform(1.0, street.z_end, size=int(rng.integers(0, 3))):
        add_clutter(b, rng, side * (outer - rng.uniform(0.4, 0.8)), z)


def add_crossing_signals(b: SceneBuilder, rng: np.random.Generator, street: Street) -> None:
    """Traffic-light poles at the near corners of side streets, sometimes with an arm over the road."""
    for z0, _ in street.crossings:
        if z0 < 5.0 or rng.random() > 0.6:
            continue
        for side in (-1, 1):
            x = side * (street.road_half + 0.5)
            height = rng.uniform(3.0, 6.5)
            b.begin()
            b.cylinder(x, z0 - 0.6, 0.0, height, rng.uniform(0.06, 0.11), POLE, Material.METAL)
            add_traffic_light(b, x, z0 - 0.85, rng.uniform(2.3, height - 0.5))
            if rng.random() < 0.4:
                xa = x - side * street.road_half * rng.uniform(0.6, 1.1)
                b.box((min(x, xa), height - 0.15, z0 - 0.66), (max(x, xa), height - 0.05, z0 - 0.54), POLE,
                      Material.METAL)
                add_traffic_light(b, xa + side * 0.3, z0 - 0.8, height - 0.6)
