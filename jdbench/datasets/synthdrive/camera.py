"""Pinhole camera of SynthDrive: intrinsics, pose in the street frame, rays and the Cityscapes camera.json.

Street frame: X to the right across the street, Y up (the road is the plane Y = 0), Z along the street.
Camera frame (OpenCV): x right, y down, z forward. Pixel centres sit at integer (u, v) = (column, row), the
same coordinates as ``u0, v0``. ``pitch`` > 0 tilts the optical axis down towards the road.
"""
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

#: Focal length per image width, Cityscapes' ratio (fx = 2262.52 px at 2048 px wide).
FOCAL_PER_WIDTH = 2262.52 / 2048.0
#: Stereo baseline written to camera.json (Cityscapes' value), used to encode disparity.
BASELINE = 0.209313


@dataclass(frozen=True)
class CameraPose:
    """Where the camera is in the street frame: ``height`` (m), ``pitch`` (rad, > 0 = down), ``heading``
    (rad, vehicle yaw relative to the street, > 0 turns towards +X) and lateral position ``x`` (m)."""

    height: float
    pitch: float
    heading: float
    x: float

    def camera(self, size: Tuple[int, int]) -> 'Camera':
        """The pinhole camera at this pose with Cityscapes-like intrinsics for ``size = (H, W)``."""
        return Camera.for_size(size, self.height, self.pitch, self.heading, self.x)


@dataclass(frozen=True)
class Camera:
    """A pinhole camera ``height`` metres above the road at lateral position ``x``.

    ``heading`` (radians, > 0 turns towards +X) is the vehicle's yaw relative to the street axis; it is part
    of the scene, not of the camera-to-vehicle extrinsics, so camera.json reports ``yaw = 0``.
    """

    height: float
    pitch: float
    heading: float
    x: float
    fx: float
    fy: float
    u0: float
    v0: float
    baseline: float = BASELINE

    @classmethod
    def for_size(cls, size: Tuple[int, int], height: float, pitch: float, heading: float = 0.0,
                 x: float = 0.0) -> 'Camera':
        """Camera with Cityscapes-like intrinsics for an image of ``size = (H, W)``, square pixels."""
        h, w = size
        f = FOCAL_PER_WIDTH * w
        return cls(height=float(height), pitch=float(pitch), heading=float(heading), x=float(x), fx=f, fy=f,
                   u0=(w - 1) / 2.0, v0=(h - 1) / 2.0)

    @property
    def origin(self) -> np.ndarray:
        """Camera centre in the street frame, shape (3,)."""
        return np.array([self.x, self.height, 0.0])

    def axes(self) -> np.ndarray:
        """Rows: the camera's right, down and forward unit vectors in the street frame, shape (3, 3)."""
        sp, cp = np.sin(self.pitch), np.cos(self.pitch)
        sh, ch = np.sin(self.heading), np.cos(self.heading)
        right = [ch, 0.0, -sh]
        down = [-sp * sh, -cp, -sp * ch]
        forward = [cp * sh, -sp, cp * ch]
        return np.array([right, down, forward])

    def rays(self, size: Tuple[int, int]) -> np.ndarray:
        """Directions through every pixel centre, shape (3, H*W) float32, row-major pixels.

        Each direction has a unit component along the optical axis, so the ray parameter of a hit is its
        z-depth.
        """
        h, w = size
        a = ((np.arange(w) - self.u0) / self.fx).astype(np.float32)
        b = ((np.arange(h) - self.v0) / self.fy).astype(np.float32)
        d = np.empty((3, h, w), np.float32)
        for i, (r, dn, f) in enumerate(self.axes().T.astype(np.float32)):
            d[i] = (b[:, None] * dn + f) + a[None, :] * r
        return d.reshape(3, h * w)

    def project(self, points: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Project street-frame ``points`` (..., 3) to pixel ``u, v`` and z-depth (each of shape (...))."""
        rel = points - self.origin
        xc, yc, zc = np.moveaxis(rel @ self.axes().T, -1, 0)
        with np.errstate(divide='ignore', invalid='ignore'):
            return self.u0 + self.fx * xc / zc, self.v0 + self.fy * yc / zc, zc

    def to_cityscapes(self) -> Dict[str, Dict[str, float]]:
        """The camera in the Cityscapes camera.json schema (extrinsic z = height, pitch > 0 = down)."""
        return {
            'extrinsic': {'baseline': self.baseline, 'pitch': self.pitch, 'roll': 0.0, 'yaw': 0.0,
                          'x': 0.0, 'y': 0.0, 'z': self.height},
            'intrinsic': {'fx': self.fx, 'fy': self.fy, 'u0': self.u0, 'v0': self.v0},
        }
