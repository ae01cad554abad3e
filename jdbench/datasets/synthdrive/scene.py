"""The SynthDrive world: street layout, primitive table and materials.

Every object is a union of primitives, each with a centre ``c``, half sizes ``s`` and a yaw about the vertical
axis (local -> street frame: ``X = cx + cos*lx + sin*lz``, ``Z = cz - sin*lx + cos*lz``):

* ``BOX``: axis-aligned in its local frame with half extents ``s``;
* ``CYLINDER``: vertical, radius ``s[0]``, half height ``s[1]`` (yaw unused);
* ``ELLIPSOID``: radii ``s`` in its local frame.
"""
import math
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .camera import CameraPose
from .classes import ROAD, TERRAIN

BOX, CYLINDER, ELLIPSOID = 0, 1, 2


class Material(IntEnum):
    """Appearance model of a surface; shading picks palette and texture from it."""

    ROAD = 0
    TERRAIN = 1
    SIDEWALK = 2
    FACADE = 3
    CONCRETE = 4
    FENCE = 5
    METAL = 6
    SIGN = 7
    SIGNAL = 8
    FOLIAGE = 9
    BARK = 10
    PAINT = 11
    GLASS = 12
    TYRE = 13
    SHIRT = 14
    TROUSERS = 15
    SKIN = 16
    CLUTTER = 17


@dataclass
class Primitives:
    """Table of ``n`` primitives: ``kind`` (n,), ``centre`` (n, 3), ``half`` (n, 3), ``yaw`` (n,),
    ``label`` (n,) train IDs, ``material`` (n,) and ``group`` (n,), the object each belongs to."""

    kind: np.ndarray
    centre: np.ndarray
    half: np.ndarray
    yaw: np.ndarray
    label: np.ndarray
    material: np.ndarray
    group: np.ndarray

    def __len__(self) -> int:
        return len(self.kind)

    def bounds(self) -> Tuple[np.ndarray, np.ndarray]:
        """Axis-aligned street-frame bounds ``(lo, hi)``, each (n, 3), that contain every primitive."""
        c, s = np.abs(np.cos(self.yaw)), np.abs(np.sin(self.yaw))
        ext = self.half.copy()
        rot = self.kind != CYLINDER
        ext[rot, 0] = c[rot] * self.half[rot, 0] + s[rot] * self.half[rot, 2]
        ext[rot, 2] = s[rot] * self.half[rot, 0] + c[rot] * self.half[rot, 2]
        return self.centre - ext, self.centre + ext


@dataclass
class SceneBuilder:
    """Collects primitives object by object.

    ``begin(x, z, yaw)`` starts a new object (group) whose parts are then given in the object's frame: part
    coordinates are rotated by ``yaw`` about the vertical axis and moved to ``(x, 0, z)``. ``movers`` maps the
    groups that :meth:`tag` marked as able to move (vehicles in the lanes, riders, pedestrians) to
    ``(kind, yaw)``; single images ignore it, sequences (``sequence.py``) move them along their heading.
    """

    rows: List[Tuple[float, ...]] = field(default_factory=list)
    groups: int = 0
    frame: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    movers: Dict[int, Tuple[str, float]] = field(default_factory=dict)

    def begin(self, x: float = 0.0, z: float = 0.0, yaw: float = 0.0) -> 'SceneBuilder':
        """Start a new object placed at ``(x, 0, z)`` and turned by ``yaw``; returns the builder."""
        self.groups += 1
        self.frame = (float(x), float(z), float(yaw))
        return self

    def _add(self, kind: int, centre: Sequence[float], half: Sequence[float], label: int, material: int,
             yaw: float) -> None:
        fx, fz, fyaw = self.frame
        c, s = math.cos(fyaw), math.sin(fyaw)
        x, y, z = centre
        yaw = 0.0 if kind == CYLINDER else yaw + fyaw          # a vertical cylinder has no orientation
        self.rows.append((kind, fx + c * x + s * z, y, fz - s * x + c * z, *half, yaw, label, int(material),
                          self.groups - 1))

    def tag(self, kind: str) -> None:
        """Mark the current object as a mover of ``kind`` heading along its frame's yaw."""
        self.movers[self.groups - 1] = (kind, self.frame[2])

    def box(self, lo: Sequence[float], hi: Sequence[float], label: int, material: int,
            yaw: float = 0.0) -> None:
        """Box spanning ``lo..hi`` in the object frame, turned by ``yaw`` about its own centre."""
        self._add(BOX, [(a + b) / 2 for a, b in zip(lo, hi)], [(b - a) / 2 for a, b in zip(lo, hi)], label,
                  material, yaw)

    def cylinder(self, x: float, z: float, y0: float, y1: float, radius: float, label: int,
                 material: int) -> None:
        """Vertical cylinder with axis at ``(x, z)`` (object frame) from height ``y0`` to ``y1``."""
        self._add(CYLINDER, (x, (y0 + y1) / 2, z), (radius, (y1 - y0) / 2, radius), label, material, 0.0)

    def ellipsoid(self, centre: Sequence[float], radii: Sequence[float], label: int, material: int,
                  yaw: float = 0.0) -> None:
        """Ellipsoid with ``radii`` along its axes, centred at ``centre`` (object frame)."""
        self._add(ELLIPSOID, centre, radii, label, material, yaw)

    def mark(self) -> Tuple[int, int]:
        """A point to :meth:`rollback` to or to take a :meth:`footprint` from."""
        return len(self.rows), self.groups

    def rollback(self, mark: Tuple[int, int]) -> None:
        """Drop everything added since ``mark``."""
        del self.rows[mark[0]:]
        self.groups = mark[1]
        for group in [g for g in self.movers if g >= mark[1]]:
            del self.movers[group]

    def footprint(self, mark: Tuple[int, int]) -> Tuple[float, float, float, float]:
        """Ground rectangle ``(x0, x1, z0, z1)`` covering the primitives added since ``mark``."""
        x0 = z0 = math.inf
        x1 = z1 = -math.inf
        for kind, x, _, z, hx, _, hz, yaw, *_ in self.rows[mark[0]:]:
            c, s = abs(math.cos(yaw)), abs(math.sin(yaw))
            ex, ez = (hx, hz) if kind == CYLINDER else (c * hx + s * hz, s * hx + c * hz)
            x0, x1, z0, z1 = min(x0, x - ex), max(x1, x + ex), min(z0, z - ez), max(z1, z + ez)
        return x0, x1, z0, z1

    def build(self) -> Primitives:
        """The primitive table of everything added."""
        return _table(self.rows)


def _table(rows: List[Tuple[float, ...]]) -> Primitives:
    """Rows of :meth:`SceneBuilder._add` as a :class:`Primitives` table."""
    a = np.array(rows, dtype=np.float64).reshape(-1, 11)
    return Primitives(kind=a[:, 0].astype(np.int8), centre=a[:, 1:4], half=a[:, 4:7], yaw=a[:, 7],
                      label=a[:, 8].astype(np.uint8), material=a[:, 9].astype(np.int16),
                      group=a[:, 10].astype(np.int32))


@dataclass
class Street:
    """Ground layout: a road ``|X| < road_half`` along Z, side streets crossing at ``crossings`` (k, 2) Z
    intervals, lane lines every ``lane_width``; everything else on the ground plane is terrain."""

    road_half: float
    lane_width: float
    lanes: int
    crossings: np.ndarray
    z_end: float

    def ground_label(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Train ID of the ground plane at street coordinates ``(x, z)`` (any equal shapes), uint8."""
        road = np.abs(x) < self.road_half
        for z0, z1 in self.crossings:
            road |= (z > z0) & (z < z1)
        return np.where(road, ROAD, TERRAIN).astype(np.uint8)


@dataclass
class Scene:
    """One sampled world: camera pose, street layout and primitive table (independent of image size), and
    the ``movers`` of :class:`SceneBuilder` (group -> ``(kind, yaw)``)."""

    pose: CameraPose
    street: Street
    prims: Primitives
    movers: Dict[int, Tuple[str, float]] = field(default_factory=dict)
