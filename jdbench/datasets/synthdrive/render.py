"""``render_sample``: one SynthDrive image with its exact labels, depth and camera."""
import zlib
from typing import Dict, Tuple

import numpy as np

from .appearance import sample_appearance
from .cities import DEFAULT_CITY
from .classes import SKY
from .raycast import GROUND_ID, Hits, cast
from .scene import Scene
from .shading import shade
from .styles import STYLES, sample_lighting
from .world import APPEARANCE_STREAM, STYLE_STREAM, sample_scene, stream


def label_map(scene: Scene, hits: Hits) -> np.ndarray:
    """Train IDs (N,) uint8 of cast pixels: the primitive's label, the ground layout, or sky."""
    label = np.full(hits.prim.shape, SKY, np.uint8)
    on_obj = hits.prim >= 0
    label[on_obj] = scene.prims.label[hits.prim[on_obj]]
    ground = np.flatnonzero(hits.prim == GROUND_ID)
    x, _, z = hits.points(ground)
    label[ground] = scene.street.ground_label(x, z)
    return label


def render_sample(seed: int, size: Tuple[int, int] = (128, 256), style: str = 'day',
                  city: str = DEFAULT_CITY) -> Dict[str, object]:
    """Render SynthDrive sample ``seed`` (>= 0) at ``size = (H, W)`` in ``style`` (a key of ``STYLES``) and
    ``city`` (a key of ``cities.CITIES``: the street layout, camera height and object densities).

    Returns ``img`` uint8 (H, W, 3) RGB, ``label`` uint8 (H, W) Cityscapes train IDs (255 = ignore),
    ``depth`` float32 (H, W) z-depth in metres (0 = no surface, i.e. sky) and ``camera``, the Cityscapes
    camera.json dict. Geometry (label, depth, camera) depends on ``seed`` and ``city`` only; ``style`` changes
    the image.
    """
    if style not in STYLES:
        raise KeyError(f'unknown SynthDrive style {style!r}; choose from {sorted(STYLES)}')
    size = h, w = int(size[0]), int(size[1])
    scene = sample_scene(seed, city)
    camera = scene.pose.camera(size)
    hits = cast(camera, scene.prims, size)
    label = label_map(scene, hits)
    appearance = sample_appearance(scene.prims, stream(seed, APPEARANCE_STREAM))
    style_rng = stream(seed, STYLE_STREAM, zlib.crc32(style.encode()))
    lighting = sample_lighting(STYLES[style], style_rng)
    img = shade(scene, hits, label, size, appearance, lighting, style_rng)
    depth = np.where(np.isfinite(hits.depth), hits.depth, 0.0).astype(np.float32)
    return {'img': img, 'label': label.reshape(h, w), 'depth': depth.reshape(h, w),
            'camera': camera.to_cityscapes()}
