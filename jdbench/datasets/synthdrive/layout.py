"""Sampling of the static street: camera pose, road and side streets, sidewalks, buildings and the far
backdrop that closes the view (so every ground ray ends within ~100 m)."""
from typing import Iterator, Tuple

import numpy as np

from .camera import CameraPose
from .cities import CITIES, DEFAULT_CITY, City
from .classes import BUILDING, SIDEWALK, VEGETATION
from .scene import Material, SceneBuilder, Street

#: The street is modelled from this Z (behind the camera) onwards.
Z_START = -30.0
#: Lateral extent of the backdrop at the end of the street.
BACKDROP_HALF_WIDTH = 120.0


def sample_street(rng: np.random.Generator, city: City = CITIES[DEFAULT_CITY]) -> Street:
    """Road width and lanes, side-street crossings and where the street ends (a T-junction)."""
    lanes = int(rng.integers(*city.lanes))
    lane_width = rng.uniform(*city.lane_width)
    z_end = rng.uniform(*city.street_length)
    crossings = []
    for centre in np.sort(rng.uniform(14.0, z_end - 30.0, size=int(rng.integers(*city.side_streets)))):
        half = rng.uniform(3.5, 6.5)
        if not crossings or centre - half > crossings[-1][1] + 8.0:
            crossings.append((centre - half, centre + half))
    crossings.append((z_end - rng.uniform(10.0, 16.0), z_end))   # the T-junction at the end
    return Street(road_half=lanes * lane_width / 2, lane_width=lane_width, lanes=lanes,
                  crossings=np.array(crossings), z_end=z_end)


def sample_pose(rng: np.random.Generator, street: Street, city: City = CITIES[DEFAULT_CITY]) -> CameraPose:
    """A camera in one of the lanes at the city's height and pitch (city A: 1.15-1.75 m high, pitched
    -0.01..0.07 rad), heading within ±0.1 rad."""
    lane = int(rng.integers(street.lanes))
    x = -street.road_half + street.lane_width * (lane + 0.5) + rng.uniform(-0.35, 0.35)
    return CameraPose(height=rng.uniform(*city.camera_height), pitch=rng.uniform(*city.camera_pitch),
                      heading=rng.uniform(-0.1, 0.1), x=x)


def free_spans(street: Street, z0: float, z1: float) -> Iterator[Tuple[float, float]]:
    """The parts of ``[z0, z1]`` outside the side streets."""
    for c0, c1 in street.crossings:
        if c0 > z0:
            yield z0, min(c0, z1)
        z0 = max(z0, c1)
        if z0 >= z1:
            return
    if z0 < z1:
        yield z0, z1


def add_sidewalks(b: SceneBuilder, street: Street, side: int, width: float, curb: float) -> None:
    """Raised sidewalk slabs along one ``side`` (±1) of the road, interrupted by the side streets."""
    x0, x1 = street.road_half, street.road_half + width
    for z0, z1 in free_spans(street, Z_START, street.z_end):
        b.begin()
        b.box((min(side * x0, side * x1), 0.0, z0), (max(side * x0, side * x1), curb, z1), SIDEWALK,
              Material.SIDEWALK)


def add_building(b: SceneBuilder, rng: np.random.Generator, x_front: float, side: int, z0: float, z1: float,
                 height: float, depth: float) -> None:
    """A facade block from ``x_front`` away from the road over ``z0..z1``, sometimes with a set-back tower."""
    b.begin()
    xa, xb = x_front, x_front + side * depth
    b.box((min(xa, xb), 0.0, z0), (max(xa, xb), height, z1), BUILDING, Material.FACADE)
    if rng.random() < 0.3 and z1 - z0 > 6.0:
        inset = rng.uniform(1.0, 3.0)
        xa = x_front + side * inset
        top = height + rng.uniform(3.0, 15.0)
        b.box((min(xa, xb), height, z0 + inset), (max(xa, xb), top, z1 - inset), BUILDING, Material.FACADE)


def add_building_row(b: SceneBuilder, rng: np.random.Generator, street: Street, side: int,
                     x_line: float, city: City = CITIES[DEFAULT_CITY]) -> list:
    """Buildings along one side from ``x_line`` outwards; returns the ``(z0, z1)`` gaps left between them."""
    gaps = []
    for s0, s1 in free_spans(street, Z_START, street.z_end):
        z = s0
        while z < s1 - 1.0:
            length = min(rng.uniform(6.0, 26.0), s1 - z)
            if rng.random() < city.building_gap_prob:
                gaps.append((z, z + length))
            else:
                setback = rng.uniform(0.0, 1.5) if rng.random() < 0.4 else 0.0
                height = rng.uniform(*city.building_height) * (1.8 if rng.random() < city.tall_prob else 1.0)
                add_building(b, rng, side * (x_line + setback), side, z, z + length, height,
                             rng.uniform(8.0, 20.0))
            z += length
    return gaps


def add_far_rows(b: SceneBuilder, rng: np.random.Generator, street: Street,
                 x_sides: Tuple[float, float]) -> None:
    """Gap-free rows that bound the view: one behind each side's buildings and one across the street end."""
    for side, x_line in zip((-1, 1), x_sides):
        x_back = x_line + rng.uniform(22.0, 35.0)
        z, z_stop = Z_START, street.z_end + 10.0            # the backdrop starts before z_end + 8
        while z < z_stop:
            length = min(rng.uniform(10.0, 35.0), z_stop - z)
            _far_block(b, rng, (side * x_back, side * (x_back + 20.0)), (z, z + length))
            z += length
    walk = rng.uniform(2.0, 5.0)
    b.begin()
    b.box((-BACKDROP_HALF_WIDTH, 0.0, street.z_end), (BACKDROP_HALF_WIDTH, 0.15, street.z_end + walk),
          SIDEWALK, Material.SIDEWALK)
    x = -BACKDROP_HALF_WIDTH
    while x < BACKDROP_HALF_WIDTH:
        width = rng.uniform(6.0, 30.0)
        z0 = street.z_end + walk + rng.uniform(0.0, 3.0)
        _far_block(b, rng, (x, x + width), (z0, z0 + 20.0))
        x += width


def _far_block(b: SceneBuilder, rng: np.random.Generator, xs: Tuple[float, float],
               zs: Tuple[float, float]) -> None:
    """A far building (or, one time in five, a tree line) covering ``xs`` × ``zs`` from the ground up."""
    b.begin()
    lo, hi = (min(xs), 0.0, zs[0]), (max(xs), 0.0, zs[1])
    if rng.random() < 0.2:
        b.box(lo, (hi[0], rng.uniform(6.0, 14.0), hi[2]), VEGETATION, Material.FOLIAGE)
    else:
        b.box(lo, (hi[0], rng.uniform(6.0, 28.0), hi[2]), BUILDING, Material.FACADE)
