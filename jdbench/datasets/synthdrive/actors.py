"""Sampling of vehicles, pedestrians and riders. Each is built in its own frame (x across, z along its
heading, y up) and placed with :meth:`SceneBuilder.begin`."""
from typing import Callable, List, Optional, Tuple

import numpy as np

from .cities import CITIES, DEFAULT_CITY, City
from .classes import BICYCLE, BUS, CAR, MOTORCYCLE, PERSON, RIDER, TRUCK
from .layout import free_spans
from .scene import Material, SceneBuilder, Street

Rect = Tuple[float, float, float, float]   # x0, x1, z0, z1 footprint in the street frame


def _wheels(b: SceneBuilder, label: int, half_width: float, radius: float, zs: Tuple[float, ...],
            thickness: float = 0.11) -> None:
    """A pair of wheels (thin ellipsoids) at each axle position ``zs``."""
    for z in zs:
        for sx in (-1, 1):
            b.ellipsoid((sx * (half_width - 0.1), radius, z), (thickness, radius, radius), label,
                        Material.TYRE)


def add_car(b: SceneBuilder, rng: np.random.Generator) -> float:
    """A car (body, glass cabin, roof, wheels) in the current frame; returns its length."""
    length, width = rng.uniform(3.7, 4.9), rng.uniform(1.65, 1.95)
    body, cabin = rng.uniform(0.55, 0.75), rng.uniform(0.42, 0.58)
    hw, hl, y0 = width / 2, length / 2, 0.3
    b.box((-hw, y0, -hl), (hw, y0 + body, hl), CAR, Material.PAINT)
    c0, c1 = -hl * rng.uniform(0.45, 0.7), hl * rng.uniform(0.2, 0.45)
    top = y0 + body + cabin
    b.box((-hw + 0.08, y0 + body, c0), (hw - 0.08, top - 0.05, c1), CAR, Material.GLASS)
    b.box((-hw + 0.1, top - 0.05, c0 + 0.1), (hw - 0.1, top, c1 - 0.1), CAR, Material.PAINT)
    r = rng.uniform(0.29, 0.34)
    _wheels(b, CAR, hw, r, (-hl + 0.8, hl - 0.8))
    return length


def add_truck(b: SceneBuilder, rng: np.random.Generator) -> float:
    """A box truck: cab with windscreen and a cargo box; returns its length."""
    cargo, hw = rng.uniform(5.0, 8.0), 1.25
    length = cargo + 2.2
    z0 = -length / 2
    b.box((-hw, 0.45, z0 + cargo), (hw, 2.7, z0 + length), TRUCK, Material.PAINT)
    b.box((-hw + 0.05, 1.6, z0 + length - 0.05), (hw - 0.05, 2.5, z0 + length + 0.01), TRUCK, Material.GLASS)
    b.box((-hw - 0.02, 0.55, z0), (hw + 0.02, rng.uniform(3.0, 3.8), z0 + cargo - 0.1), TRUCK, Material.PAINT)
    _wheels(b, TRUCK, hw, 0.5, (z0 + 1.2, z0 + cargo - 0.8, z0 + length - 1.1), thickness=0.15)
    return length


def add_bus(b: SceneBuilder, rng: np.random.Generator) -> float:
    """A bus with a window band; returns its length."""
    length, hw = rng.uniform(10.5, 13.0), 1.27
    hl = length / 2
    b.box((-hw, 0.35, -hl), (hw, 3.1, hl), BUS, Material.PAINT)
    b.box((-hw - 0.01, 1.3, -hl + 0.4), (hw + 0.01, 2.5, hl + 0.01), BUS, Material.GLASS)
    _wheels(b, BUS, hw, 0.5, (-hl + 2.5, hl - 2.5), thickness=0.15)
    return length


def add_vehicle(b: SceneBuilder, rng: np.random.Generator, x: float, z: float, yaw: float) -> float:
    """A car, truck or bus centred at ``(x, z)``; returns its length."""
    b.begin(x, z, yaw)
    kind = rng.random()
    if kind < 0.84:
        return add_car(b, rng)
    return add_truck(b, rng) if kind < 0.93 else add_bus(b, rng)


def add_person(b: SceneBuilder, rng: np.random.Generator, x: float, z: float) -> None:
    """A standing or walking pedestrian (legs, arms, torso, head), 1.5-1.95 m tall, facing any way."""
    s = rng.uniform(0.86, 1.11)
    b.begin(x, z, rng.uniform(0.0, 2 * np.pi))
    stride = rng.uniform(-0.15, 0.15) * s
    for sx, dz in ((-1, stride), (1, -stride)):
        b.cylinder(sx * 0.1 * s, dz, 0.0, 0.86 * s, 0.07 * s, PERSON, Material.TROUSERS)
        b.cylinder(sx * 0.235 * s, -dz, 0.8 * s, 1.42 * s, 0.045 * s, PERSON, Material.SHIRT)
    b.ellipsoid((0.0, 1.17 * s, 0.0), (0.21 * s, 0.34 * s, 0.13 * s), PERSON, Material.SHIRT)
    b.ellipsoid((0.0, 1.63 * s, 0.0), (0.095 * s, 0.12 * s, 0.105 * s), PERSON, Material.SKIN)
    if rng.random() < 0.3:
        b.box((-0.16 * s, 1.0 * s, -0.3 * s), (0.16 * s, 1.4 * s, -0.12 * s), PERSON, Material.TROUSERS)


def add_rider(b: SceneBuilder, rng: np.random.Generator, x: float, z: float, yaw: float) -> float:
    """A cyclist or motorcyclist: the two-wheeler (bicycle/motorcycle) and its rider; returns its length."""
    b.begin(x, z, yaw)
    if rng.random() < 0.7:
        vehicle, length, wheel, base = BICYCLE, 1.7, rng.uniform(0.3, 0.35), 0.52
        b.box((-0.02, 0.45, -0.45), (0.02, 0.6, 0.45), BICYCLE, Material.METAL)
        b.box((-0.02, 0.45, -0.1), (0.02, 0.95, -0.05), BICYCLE, Material.METAL)
        b.box((-0.28, 0.98, 0.42), (0.28, 1.02, 0.46), BICYCLE, Material.METAL)
        thickness, seat = 0.025, 0.95
    else:
        vehicle, length, wheel, base = MOTORCYCLE, 2.1, 0.32, 0.72
        b.box((-0.2, 0.4, -0.6), (0.2, 0.85, 0.55), MOTORCYCLE, Material.PAINT)
        b.box((-0.35, 1.0, 0.5), (0.35, 1.05, 0.55), MOTORCYCLE, Material.METAL)
        thickness, seat = 0.07, 0.85
    for zw in (-base, base):
        b.ellipsoid((0.0, wheel, zw), (thickness, wheel, wheel), vehicle, Material.TYRE)
    for sx in (-1, 1):
        b.cylinder(sx * 0.13, 0.0, 0.35, seat, 0.07, RIDER, Material.TROUSERS)
        b.ellipsoid((sx * 0.22, seat + 0.32, 0.28), (0.045, 0.05, 0.22), RIDER, Material.SHIRT)
    b.ellipsoid((0.0, seat + 0.35, 0.08), (0.2, 0.32, 0.15), RIDER, Material.SHIRT)
    b.ellipsoid((0.0, seat + 0.8, 0.15), (0.11, 0.13, 0.12), RIDER, Material.SKIN)
    return length


def _free(rect: Rect, taken: List[Rect]) -> bool:
    """Whether ``rect`` overlaps none of the ``taken`` footprints."""
    x0, x1, z0, z1 = rect
    return all(x1 < a0 or x0 > a1 or z1 < b0 or z0 > b1 for a0, a1, b0, b1 in taken)


def add_traffic(b: SceneBuilder, rng: np.random.Generator, street: Street, camera_x: float,
                city: City = CITIES[DEFAULT_CITY]) -> List[Rect]:
    """Parked vehicles along the kerbs, moving vehicles in the lanes and riders near the kerb; returns the
    footprints taken on the road (so pedestrians avoid them)."""
    taken: List[Rect] = [(camera_x - 1.2, camera_x + 1.2, -6.0, 3.0)]   # the ego vehicle
    for side in (-1, 1):
        if rng.random() > city.parked_side_prob:
            continue
        x = side * (street.road_half - rng.uniform(1.0, 1.2))
        for z0, z1 in free_spans(street, rng.uniform(3.0, 10.0), street.z_end - 3.0):
            z = z0
            while z < z1 - 5.0:
                if rng.random() < city.parked_fill_prob:
                    yaw = rng.uniform(-0.05, 0.05) + (np.pi if rng.random() < 0.3 else 0.0)
                    length = _place(b, rng, x, z, yaw, taken, add_vehicle)
                    z += length + rng.uniform(0.6, 8.0)
                else:
                    z += rng.uniform(4.0, 15.0)
    for _ in range(int(rng.integers(0, city.vehicles_per_lane * street.lanes + 1))):
        lane = int(rng.integers(street.lanes))
        x = -street.road_half + street.lane_width * (lane + 0.5) + rng.uniform(-0.3, 0.3)
        yaw = rng.uniform(-0.04, 0.04) + (np.pi if x < 0 and rng.random() < 0.7 else 0.0)
        _place(b, rng, x, rng.uniform(6.0, street.z_end - 6.0), yaw, taken, add_vehicle, mover='vehicle')
    for _ in range(int(rng.integers(0, city.max_riders + 1))):
        side = -1 if rng.random() < 0.5 else 1
        x = side * (street.road_half - rng.uniform(0.5, 1.6))
        yaw = rng.uniform(-0.1, 0.1) + (np.pi if rng.random() < 0.3 else 0.0)
        _place(b, rng, x, rng.uniform(4.0, street.z_end - 4.0), yaw, taken, add_rider, mover='rider')
    return taken


def _place(b: SceneBuilder, rng: np.random.Generator, x: float, z: float, yaw: float, taken: List[Rect],
           make: Callable[..., float], mover: Optional[str] = None) -> float:
    """Build ``make(b, rng, x, z, yaw)`` and keep it only if its footprint is free (then mark it taken, and
    tag it as a ``mover`` if given). Returns the object's length either way, so the random stream does not
    depend on the outcome."""
    mark = b.mark()
    length = make(b, rng, x, z, yaw)
    rect = b.footprint(mark)
    if _free(rect, taken):
        taken.append(rect)
        if mover is not None:
            b.tag(mover)
    else:
        b.rollback(mark)
    return length


def add_pedestrians(b: SceneBuilder, rng: np.random.Generator, street: Street, walks: Tuple[float, float],
                    taken: List[Rect], city: City = CITIES[DEFAULT_CITY]) -> None:
    """Pedestrians on both sidewalks and on the side-street crossings, avoiding vehicle footprints."""
    for _ in range(int(rng.integers(0, city.max_pedestrians + 1))):
        side = -1 if rng.random() < 0.5 else 1
        walk = walks[(side + 1) // 2]
        add_person(b, rng, side * (street.road_half + rng.uniform(0.4, walk - 0.3)),
                   rng.uniform(2.5, street.z_end))
        b.tag('person')
    for z0, z1 in street.crossings:
        if z0 < 4.0 or rng.random() > city.crossing_people_prob:
            continue
        for _ in range(int(rng.integers(1, 5))):
            x, z = rng.uniform(-street.road_half, street.road_half), rng.uniform(z0, z1)
            if _free((x - 0.4, x + 0.4, z - 0.4, z + 0.4), taken):
                add_person(b, rng, x, z)
                b.tag('person')
