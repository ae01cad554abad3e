"""Turns ray-cast hits into an RGB image: textures, sun + sky lighting, sky, fog, exposure, optics blur and
sensor noise. Only appearance is decided here; geometry and labels are fixed before."""
from functools import lru_cache
from typing import Tuple

import cv2
import numpy as np

from .appearance import Appearance
from .classes import ROAD
from .noise import fbm
from .raycast import GROUND_ID, SKY_ID, Hits, Surface, surface_at
from .scene import Material, Scene
from .shadows import ground_shadow
from .styles import Lighting
from .textures import TEXTURES, Patch

f32 = np.float32
#: A fixed bank of standard normal samples (independent of sample seeds); each image reads sensor noise from a
#: window starting at a random offset, which is far cheaper than drawing fresh samples.
_NOISE = np.random.default_rng(0x5E2502).standard_normal(1 << 21, dtype=f32)


def surface_colour(scene: Scene, hits: Hits, ground_label: np.ndarray, appearance: Appearance,
                   lighting: Lighting) -> Tuple[np.ndarray, np.ndarray]:
    """Lit linear RGB (3, k) of the ``k`` surface (non-sky) pixels, and those pixels' indices (k,).
    ``ground_label`` (N,) tells road from terrain on the ground.

    Pixels are sorted by material first, so each texture works on one contiguous slice.
    """
    material = material_map(scene, hits, ground_label)
    order = np.argsort(material, kind='stable')
    ranges = np.searchsorted(material.take(order), np.arange(-1, len(Material) + 1) - 0.5)
    idx = order[ranges[1]:]                                     # sky (material -1) sorts first
    ranges = ranges[1:] - ranges[1]
    surf = surface_at(hits, scene.prims, idx)
    albedo, emission = np.zeros_like(surf.point), np.zeros_like(surf.point)
    for mat, texture in TEXTURES.items():
        sl = slice(ranges[mat], ranges[mat + 1])
        if sl.stop > sl.start:
            albedo[:, sl], e = texture(Patch(sl, surf, scene.prims, appearance, lighting, scene.street,
                                             hits.origin))
            if e is not None:
                emission[:, sl] = e
    return albedo * irradiance(scene, surf, lighting) + emission, idx


def material_map(scene: Scene, hits: Hits, ground_label: np.ndarray) -> np.ndarray:
    """:class:`Material` of every pixel (N,) int16, -1 for the sky; the ground is road or terrain by
    ``ground_label`` (N,)."""
    material = np.full(len(hits.prim), -1, np.int16)
    on_obj = hits.prim >= 0
    material[on_obj] = scene.prims.material[hits.prim[on_obj]]
    ground = hits.prim == GROUND_ID
    material[ground] = np.where(ground_label[ground] == ROAD, Material.ROAD, Material.TERRAIN)
    return material


def irradiance(scene: Scene, surf: Surface, lighting: Lighting) -> np.ndarray:
    """Light (3, k) arriving at the surface points: hemispherical sky light plus Lambertian sun, the sun
    blocked in the shadows cast on the ground."""
    n = surf.normal
    sx, sy, sz = lighting.sun_dir
    sun = np.maximum(n[0] * sx + n[1] * sy + n[2] * sz, 0.0)
    if lighting.sun.max() > 0.5:                                  # shadows of a weak sun are not worth it
        sun *= 1.0 - ground_shadow(scene.prims, lighting.sun_dir, surf.point, snap=lighting.shadow_snap)
    return lighting.ambient[:, None] * (0.65 + 0.35 * n[1]) + lighting.sun[:, None] * sun


def sky_colour(rays: np.ndarray, lighting: Lighting) -> np.ndarray:
    """Linear RGB (3, k) of the sky along ``rays`` (3, k): horizon-to-zenith gradient, clouds, sun glow."""
    style = lighting.style
    d = rays / np.sqrt((rays * rays).sum(0))
    up = np.clip(d[1], 0.0, 1.0)
    grad = np.clip(up * 3.0, 0.0, 1.0) ** 0.7
    col = _lerp(np.array(style.sky_horizon, f32), np.array(style.sky_zenith, f32), grad)
    if lighting.cloud_cover > 0:
        h = np.maximum(d[1], 0.02) * 0.25
        cloud = fbm(d[0] / h + 11.0, d[2] / h, 3)
        cover = np.clip((cloud - 1.0 + lighting.cloud_cover) * 2.5, 0.0, 1.0) * np.clip(up * 8.0, 0.0, 1.0)
        col = col + (np.array(style.sky_horizon, f32)[:, None] * 1.2 - col) * cover
    glow = np.maximum((d * lighting.sun_dir[:, None]).sum(0), 0.0) ** 32
    return col + lighting.sun[:, None] * (0.25 * glow)


def _lerp(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    return a[:, None] + (b - a)[:, None] * w


@lru_cache(maxsize=8)
def _vignette(h: int, w: int) -> np.ndarray:
    """Light fall-off towards the corners (to 78 %), (H, W, 1) float32."""
    yy, xx = np.ogrid[-1.0:1.0:h * 1j, -1.0:1.0:w * 1j]
    return (1.0 - 0.22 * (xx * xx + yy * yy) / 2.0).astype(f32)[..., None]


def develop(linear: np.ndarray, size: Tuple[int, int], lighting: Lighting,
            rng: np.random.Generator) -> np.ndarray:
    """Camera model: exposure and vignetting, gamma 2, a slight optical blur and Gaussian sensor noise.
    ``linear`` (3, N) -> uint8 RGB (H, W, 3)."""
    h, w = size
    img = np.moveaxis(linear.reshape(3, h, w), 0, -1) * (_vignette(h, w) * f32(lighting.exposure))
    img = np.sqrt(np.clip(img, 0.0, 1.0)) * f32(255.0)
    img = cv2.GaussianBlur(img, (3, 3), 0.6)
    img += _sensor_noise(img.size, rng).reshape(img.shape) * f32(lighting.noise_sigma)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def _sensor_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` standard normal values: a window of the fixed bank at an offset drawn from ``rng``."""
    start = int(rng.integers(0, _NOISE.size))
    if start + n <= _NOISE.size:
        return _NOISE[start:start + n]
    return np.take(_NOISE, np.arange(start, start + n), mode='wrap')


def shade(scene: Scene, hits: Hits, ground_label: np.ndarray, size: Tuple[int, int],
          appearance: Appearance, lighting: Lighting, rng: np.random.Generator) -> np.ndarray:
    """The uint8 RGB image (H, W, 3) of a cast scene; ``rng`` draws only the sensor noise."""
    surface, idx = surface_colour(scene, hits, ground_label, appearance, lighting)
    fog_colour = np.array(lighting.style.fog_colour, f32)[:, None]
    rays = np.take(hits.rays, idx, axis=1)
    dist = hits.depth.take(idx) * np.sqrt((rays * rays).sum(0))
    keep = np.exp(-f32(lighting.fog_density) * dist)
    sky_idx = np.flatnonzero(hits.prim == SKY_ID)
    haze = 1.0 - np.exp(-lighting.fog_density * 150.0)
    sky_rgb = sky_colour(np.take(hits.rays, sky_idx, axis=1), lighting)
    sky_rgb = sky_rgb * f32(1 - haze) + fog_colour * f32(haze)
    surface = surface * keep + fog_colour * (1.0 - keep)
    colour = np.empty((3, len(hits.prim)), f32)
    for c in range(3):
        colour[c, idx], colour[c, sky_idx] = surface[c], sky_rgb[c]
    return develop(colour, size, lighting, rng)
