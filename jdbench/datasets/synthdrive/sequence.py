"""SynthDrive sequences: the static world of one sample seen from a camera that drives along the street, with
moving vehicles, riders and pedestrians, plus a LiDAR-like scan of every frame.

* The **rig** (one per date, like KITTI's calibration): camera height and mount pitch, the scanner's offset
  from the camera, the rectification rotation written to the calibration, the focal length per image width.
* The **trajectory** (drawn from the sequence seed): speed 4-11 m/s along the street (lower if the street is
  too short for the sequence), a gentle lateral sway whose tangent is the heading (small yaw changes, below
  0.03 rad), body pitch jitter (a 0.6-1.6 Hz oscillation up to 0.008 rad plus 0.0015 rad noise) and a
  matching height bounce up to 1.5 cm. Frames are ``FRAME_INTERVAL`` (0.1 s, KITTI's 10 Hz) apart.
* **Movers**: the vehicles in the lanes, riders and pedestrians that the scene tagged move along their heading
  (vehicles 3-11 m/s, 20 % stopped; riders 2-6 m/s; pedestrians 0.6-1.6 m/s, 40 % standing). A mover stays
  put if its path would overlap the ego vehicle or another object in any frame; objects in the ego vehicle's
  path are removed from the world. Everything else is static.

The same seed always gives the same frames; rendering reuses ``raycast.cast``, ``render.label_map`` and
``shading.shade`` unchanged. See docs/synthdrive.md, "Sequences (KITTI layout)".
"""
import zlib
from dataclasses import dataclass, field, replace
from typing import Dict, Iterator, Optional, Tuple

import numpy as np

from .appearance import Appearance, sample_appearance
from .camera import Camera
from .lidar import LidarScan, cast_scan
from .raycast import GROUND_ID, cast
from .render import label_map
from .scene import Primitives, Scene
from .shading import shade
from .styles import STYLES, sample_lighting
from .world import APPEARANCE_STREAM, STYLE_STREAM, sample_scene, stream

#: Seconds between frames (KITTI raw is recorded at 10 Hz).
FRAME_INTERVAL = 0.1
#: KITTI's focal length per image width (721.5377 px at 1242 px), about 82 degrees horizontal field of view.
KITTI_FOCAL_PER_WIDTH = 721.5377 / 1242.0
#: Random-stream tags of sequences (the scene keeps its geometry/appearance/style streams 0-2).
MOTION_STREAM, RIG_STREAM = 3, 4
#: Rows: velodyne axes (forward, left, up) in camera-style axes (right, down, forward).
VELO_FROM_CAMERA_AXES = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
#: Ego vehicle footprint around the camera: half width, metres behind and ahead of it.
EGO_HALF_WIDTH, EGO_BEHIND, EGO_AHEAD = 1.2, 6.0, 3.5
#: Only primitives in this height band (m) can collide (not sidewalk slabs, not arms over the road).
_LOW_BAND = (0.2, 2.5)
_MARGIN = 0.15


@dataclass(frozen=True)
class MovingCamera(Camera):
    """A :class:`Camera` that can also sit ``z`` metres along the street (the base class stays at z = 0)."""

    z: float = 0.0

    @property
    def origin(self) -> np.ndarray:
        """Camera centre in the street frame, shape (3,)."""
        return np.array([self.x, self.height, self.z])


@dataclass(frozen=True)
class Rig:
    """Sensor rig of one date: camera ``height`` (m) and mount ``pitch`` (rad, > 0 = down) at rest,
    ``lidar_offset`` (m): the scanner centre relative to the camera in body axes (right, down, forward),
    ``rect_rotation`` (9 numbers, row-major) written as ``R_rect_00``, ``baseline`` (m): camera 2 (the
    rendered one) sits this far left of camera 0, and ``focal_per_width`` (fx = fy = focal_per_width * W)."""

    height: float = 1.65
    pitch: float = 0.02
    lidar_offset: Tuple[float, float, float] = (0.06, -0.08, -0.27)
    rect_rotation: Tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    baseline: float = 0.06
    focal_per_width: float = KITTI_FOCAL_PER_WIDTH

    def intrinsics(self, size: Tuple[int, int]) -> np.ndarray:
        """0-based pixel intrinsics (3, 3) of an image of ``size = (H, W)``; pixel centres at integers."""
        h, w = size
        f = self.focal_per_width * w
        return np.array([[f, 0.0, (w - 1) / 2.0], [0.0, f, (h - 1) / 2.0], [0.0, 0.0, 1.0]])

    def velo_to_camera(self) -> np.ndarray:
        """4x4 rigid transform from the scanner frame (x forward, y left, z up) to the rendered camera frame
        (x right, y down, z forward). Constant: both sensors are bolted to the body."""
        body = Camera(1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0).axes()
        cam = Camera(1.0, self.pitch, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0).axes()
        out = np.eye(4)
        out[:3, :3] = cam @ (VELO_FROM_CAMERA_AXES @ body).T
        out[:3, 3] = cam @ body.T @ np.asarray(self.lidar_offset)
        return out


def _rotation(rx: float, ry: float, rz: float) -> np.ndarray:
    """Rotation matrix of the rotation vector ``(rx, ry, rz)`` (Rodrigues)."""
    v = np.array([rx, ry, rz])
    angle = float(np.linalg.norm(v))
    if angle == 0:
        return np.eye(3)
    k = v / angle
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def sample_rig(seed: int, date_index: int) -> Rig:
    """The rig of date ``date_index`` of a dataset with ``seed``: height 1.45-1.75 m, mount pitch
    -0.01..0.05 rad, scanner 0.2-0.35 m behind and 0.05-0.12 m above the camera, a rectification rotation of
    up to 0.01 rad about each axis."""
    rng = stream(seed, RIG_STREAM, date_index)
    rect = _rotation(*rng.uniform(-0.01, 0.01, 3))
    return Rig(height=rng.uniform(1.45, 1.75), pitch=rng.uniform(-0.01, 0.05),
               lidar_offset=(0.06, -rng.uniform(0.05, 0.12), -rng.uniform(0.2, 0.35)),
               rect_rotation=tuple(float(v) for v in rect.ravel()))


@dataclass
class Trajectory:
    """Per-frame ego state (each (F,)): lateral ``x`` and ``z`` along the street (m) of the camera, vehicle
    ``heading`` (rad), body ``pitch`` jitter (rad, added to the rig's mount pitch) and camera ``height`` (m);
    ``speed`` (m/s)."""

    x: np.ndarray
    z: np.ndarray
    heading: np.ndarray
    pitch: np.ndarray
    height: np.ndarray
    speed: float


def sample_trajectory(rng: np.random.Generator, x0: float, z_end: float, height: float,
                      num_frames: int) -> Trajectory:
    """Drive from ``(x0, 0)`` along the street for ``num_frames`` frames; the camera stops at least 28 m
    before the street's end ``z_end`` (the speed is lowered when the sequence is too long for that)."""
    speed, sway, omega, phase = rng.uniform(4.0, 11.0), rng.uniform(0.0, 0.35), rng.uniform(0.3, 1.2), \
        rng.uniform(0.0, 2 * np.pi)
    amp_p, omega_p, phase_p, amp_h = rng.uniform(0.0, 0.008), rng.uniform(4.0, 10.0), \
        rng.uniform(0.0, 2 * np.pi), rng.uniform(0.0, 0.015)
    noise = rng.normal(0.0, 0.0015, num_frames)
    duration = (num_frames - 1) * FRAME_INTERVAL
    if duration > 0:
        speed = min(speed, max(z_end - 28.0, 10.0) / duration)
    sway = min(sway, 0.03 * speed / omega)                     # heading change below 0.03 rad
    t = np.arange(num_frames) * FRAME_INTERVAL
    x = x0 + sway * (np.sin(omega * t + phase) - np.sin(phase))
    heading = np.arctan2(sway * omega * np.cos(omega * t + phase), speed)
    pitch = amp_p * np.sin(omega_p * t + phase_p) + noise
    return Trajectory(x=x, z=speed * t, heading=heading, pitch=pitch,
                      height=height + amp_h * np.sin(omega_p * t + phase_p + 0.7), speed=float(speed))


#: Speed ranges (m/s) of movers and the chance that one stands still.
MOVER_SPEEDS: Dict[str, Tuple[float, float, float]] = {
    'vehicle': (3.0, 11.0, 0.2), 'rider': (2.0, 6.0, 0.0), 'person': (0.6, 1.6, 0.4)}


def _overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether XZ rectangles ``a`` and ``b`` (..., 4: x0, x1, z0, z1; broadcast) overlap (with a margin)."""
    return ((a[..., 0] < b[..., 1] + _MARGIN) & (b[..., 0] < a[..., 1] + _MARGIN)
            & (a[..., 2] < b[..., 3] + _MARGIN) & (b[..., 2] < a[..., 3] + _MARGIN))


@dataclass
class SequenceWorld:
    """A sampled sequence: the static ``scene`` (objects in the ego path removed; movers at frame 0), the
    ``kept`` indices (n,) of its primitives in the full scene, per-primitive ``velocity`` (n, 3) in m/s
    (street frame, zero for static ones), the mover ``speeds`` (group -> m/s), the ego ``trajectory``, the
    ``rig``, the number of frames and the ego vehicle's XZ footprint ``ego_rects`` (F, 4: x0, x1, z0, z1)."""

    scene: Scene
    kept: np.ndarray
    velocity: np.ndarray
    speeds: Dict[int, float]
    trajectory: Trajectory
    rig: Rig
    num_frames: int
    ego_rects: np.ndarray = field(default=None, repr=False)

    def prims_at(self, frame: int) -> Primitives:
        """The primitive table at ``frame`` (movers translated)."""
        prims = self.scene.prims
        if not self.velocity.any():
            return prims
        return replace(prims, centre=prims.centre + self.velocity * (frame * FRAME_INTERVAL))

    def camera(self, frame: int, size: Tuple[int, int]) -> MovingCamera:
        """The rendered camera (KITTI's image_02) at ``frame`` for images of ``size = (H, W)``."""
        tr, k = self.trajectory, self.rig.intrinsics(size)
        return MovingCamera(height=float(tr.height[frame]), pitch=self.rig.pitch + float(tr.pitch[frame]),
                            heading=float(tr.heading[frame]), x=float(tr.x[frame]), fx=k[0, 0], fy=k[1, 1],
                            u0=k[0, 2], v0=k[1, 2], z=float(tr.z[frame]))

    def scanner(self, frame: int) -> MovingCamera:
        """The scanner's pose at ``frame`` as a camera (origin and body axes; intrinsics unused)."""
        tr = self.trajectory
        body = MovingCamera(height=float(tr.height[frame]), pitch=float(tr.pitch[frame]),
                            heading=float(tr.heading[frame]), x=float(tr.x[frame]), fx=1.0, fy=1.0, u0=0.0,
                            v0=0.0, z=float(tr.z[frame]))
        origin = body.origin + body.axes().T @ np.asarray(self.rig.lidar_offset)
        return replace(body, x=float(origin[0]), height=float(origin[1]), z=float(origin[2]))

    def cam_to_world(self, frame: int) -> np.ndarray:
        """4x4 camera-to-world pose of ``frame``; the world frame is the camera frame of frame 0 (x right,
        y down, z forward), as KITTI odometry's poses."""
        out = np.eye(4)
        if frame == 0:
            return out
        a0, o0 = self._axes_origin(0)
        a, o = self._axes_origin(frame)
        out[:3, :3] = a0 @ a.T
        out[:3, 3] = a0 @ (o - o0)
        return out

    def _axes_origin(self, frame: int) -> Tuple[np.ndarray, np.ndarray]:
        cam = self.camera(frame, (1, 1))
        return cam.axes(), cam.origin


def sample_sequence(seed: int, num_frames: int, rig: Optional[Rig] = None) -> SequenceWorld:
    """The world, movers and ego trajectory of sequence ``seed`` (>= 0) over ``num_frames`` frames (>= 1)
    seen from ``rig`` (default :class:`Rig`). The world is ``sample_scene(seed)``; the motion is drawn from
    an independent stream, so the world does not depend on ``num_frames``."""
    if num_frames < 1:
        raise ValueError(f'num_frames must be >= 1, got {num_frames}')
    rig = rig if rig is not None else Rig()
    scene = sample_scene(seed)
    prims = scene.prims
    rng = stream(seed, MOTION_STREAM)
    tr = sample_trajectory(rng, scene.pose.x, scene.street.z_end, rig.height, num_frames)
    t = np.arange(num_frames) * FRAME_INTERVAL
    ego = np.stack([tr.x - EGO_HALF_WIDTH, tr.x + EGO_HALF_WIDTH, tr.z - EGO_BEHIND, tr.z + EGO_AHEAD], 1)

    lo, hi = prims.bounds()
    low = (lo[:, 1] < _LOW_BAND[1]) & (hi[:, 1] > _LOW_BAND[0])
    rects = np.stack([lo[:, 0], hi[:, 0], lo[:, 2], hi[:, 2]], 1)             # (n, 4) XZ footprints
    movers = sorted(g for g in scene.movers if (low & (prims.group == g)).any())
    is_mover = np.isin(prims.group, movers)
    static = rects[low & ~is_mover]                                             # (m, 4)
    paths: Dict[int, np.ndarray] = {}
    for g in movers:
        sel = low & (prims.group == g)
        r = rects[sel]
        paths[g] = np.broadcast_to(np.array([r[:, 0].min(), r[:, 1].max(), r[:, 2].min(), r[:, 3].max()]),
                                   (num_frames, 4))
    speeds: Dict[int, float] = {}
    velocity = np.zeros_like(prims.centre)
    for g in movers:
        kind, yaw = scene.movers[g]
        v_lo, v_hi, p_stop = MOVER_SPEEDS[kind]
        stop, speed = rng.random() < p_stop, rng.uniform(v_lo, v_hi)      # both drawn: stream stays aligned
        direction = np.array([np.sin(yaw), 0.0, np.cos(yaw)])
        if not stop and num_frames > 1:
            shift = np.outer(t * speed, direction)                             # (F, 3)
            path = paths[g] + np.stack([shift[:, 0], shift[:, 0], shift[:, 2], shift[:, 2]], 1)
            others = np.stack([p for h, p in paths.items() if h != g], 1) if len(paths) > 1 else \
                np.zeros((num_frames, 0, 4))
            if not (_overlap(path, ego).any() or _overlap(path[:, None], static[None]).any()
                    or _overlap(path[:, None], others).any()):
                paths[g] = path
                speeds[g] = float(speed)
                velocity[prims.group == g] = speed * direction
                continue
        speeds[g] = 0.0
    # remove whatever stands in the ego vehicle's way (movers that move never do)
    hit = low & _overlap(rects[:, None], ego[None]).any(1) & (np.linalg.norm(velocity, axis=1) == 0)
    blocked = np.unique(prims.group[hit])
    kept = np.flatnonzero(~np.isin(prims.group, blocked))
    table = Primitives(*(getattr(prims, f)[kept] for f in Primitives.__dataclass_fields__))
    world = Scene(pose=scene.pose, street=scene.street, prims=table,
                  movers={g: m for g, m in scene.movers.items() if g not in set(blocked.tolist())})
    speeds = {g: s for g, s in speeds.items() if g in world.movers}
    return SequenceWorld(scene=world, kept=kept, velocity=velocity[kept], speeds=speeds, trajectory=tr,
                         rig=rig, num_frames=num_frames, ego_rects=ego)


def _subset(appearance: Appearance, kept: np.ndarray) -> Appearance:
    return replace(appearance, colour=appearance.colour[kept], params=appearance.params[:, kept])


def render_sequence(seed: int, num_frames: int, size: Tuple[int, int] = (128, 416), style: str = 'day',
                    rig: Optional[Rig] = None, scan: Optional[LidarScan] = LidarScan()
                    ) -> Iterator[Dict[str, np.ndarray]]:
    """Render the frames of sequence ``seed`` one by one.

    Yields per frame: ``img`` uint8 (H, W, 3) RGB, ``label`` uint8 (H, W) train IDs, ``depth`` float32 (H, W)
    camera z-depth in metres (0 = sky), ``pose`` (4, 4) camera-to-world (world = frame 0's camera) and, unless
    ``scan`` is None, ``velo`` float32 (k, 4): the scan's points in the scanner frame (x forward, y left,
    z up) and a reflectance in [0, 1]. Lighting and object colours are drawn once per sequence; sensor noise
    per frame.
    """
    if style not in STYLES:
        raise KeyError(f'unknown SynthDrive style {style!r}; choose from {sorted(STYLES)}')
    size = h, w = int(size[0]), int(size[1])
    world = sample_sequence(seed, num_frames, rig)
    full = sample_scene(seed).prims
    appearance = _subset(sample_appearance(full, stream(seed, APPEARANCE_STREAM)), world.kept)
    style_rng = stream(seed, STYLE_STREAM, zlib.crc32(style.encode()))
    lighting = replace(sample_lighting(STYLES[style], style_rng), shadow_snap=True)
    reflect = np.clip(0.1 + 0.9 * appearance.colour.mean(1), 0.0, 1.0).astype(np.float32)
    ground_reflect = np.float32(np.clip(0.1 + 0.9 * appearance.road.mean(), 0.0, 1.0))
    for frame in range(num_frames):
        prims = world.prims_at(frame)
        scene = replace(world.scene, prims=prims)
        camera = world.camera(frame, size)
        hits = cast(camera, prims, size)
        label = label_map(scene, hits)
        img = shade(scene, hits, label, size, appearance, lighting, style_rng)
        depth = np.where(np.isfinite(hits.depth), hits.depth, 0.0).astype(np.float32)
        out = {'img': img, 'label': label.reshape(h, w), 'depth': depth.reshape(h, w),
               'pose': world.cam_to_world(frame)}
        if scan is not None:
            sh = cast_scan(scan, prims, world.scanner(frame))
            refl = np.where(sh.prim == GROUND_ID, ground_reflect, reflect.take(np.maximum(sh.prim, 0)))
            out['velo'] = np.concatenate([sh.points, refl[:, None].astype(np.float32)], 1)
        yield out
