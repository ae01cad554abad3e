"""Appearance styles: lighting, sky, atmosphere and sensor. A style never changes geometry or labels."""
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

Range = Tuple[float, float]
RGB = Tuple[float, float, float]


@dataclass(frozen=True)
class Style:
    """Ranges a render's lighting is drawn from (linear RGB, angles in radians, fog per metre, noise in 8-bit
    grey levels)."""

    sun_elevation: Range
    sun_colour: RGB
    sun_strength: Range
    ambient_colour: RGB
    ambient_strength: Range
    sky_zenith: RGB
    sky_horizon: RGB
    cloud_cover: Range
    fog_density: Range
    fog_colour: RGB
    noise_sigma: Range
    exposure: Range
    lit_windows: float = 0.0


STYLES: Dict[str, Style] = {
    'day': Style(sun_elevation=(0.4, 1.1), sun_colour=(1.0, 0.95, 0.85), sun_strength=(1.6, 2.2),
                 ambient_colour=(0.55, 0.65, 0.85), ambient_strength=(0.55, 0.75),
                 sky_zenith=(0.12, 0.3, 0.75), sky_horizon=(0.6, 0.72, 0.9), cloud_cover=(0.0, 0.6),
                 fog_density=(0.002, 0.006), fog_colour=(0.62, 0.7, 0.82), noise_sigma=(1.5, 3.5),
                 exposure=(0.9, 1.1)),
    'dusk': Style(sun_elevation=(0.03, 0.18), sun_colour=(1.0, 0.5, 0.22), sun_strength=(0.8, 1.3),
                  ambient_colour=(0.35, 0.3, 0.5), ambient_strength=(0.25, 0.4),
                  sky_zenith=(0.1, 0.12, 0.35), sky_horizon=(0.95, 0.5, 0.25), cloud_cover=(0.0, 0.5),
                  fog_density=(0.004, 0.01), fog_colour=(0.5, 0.35, 0.35), noise_sigma=(4.0, 8.0),
                  exposure=(1.3, 1.7), lit_windows=0.35),
    'fog': Style(sun_elevation=(0.5, 1.2), sun_colour=(0.9, 0.9, 0.9), sun_strength=(0.1, 0.3),
                 ambient_colour=(0.8, 0.82, 0.85), ambient_strength=(0.8, 1.0),
                 sky_zenith=(0.7, 0.72, 0.75), sky_horizon=(0.78, 0.8, 0.82), cloud_cover=(0.0, 0.0),
                 fog_density=(0.015, 0.035), fog_colour=(0.72, 0.74, 0.77), noise_sigma=(2.0, 4.0),
                 exposure=(0.9, 1.05)),
    'overcast': Style(sun_elevation=(0.6, 1.2), sun_colour=(0.95, 0.95, 0.95), sun_strength=(0.3, 0.6),
                      ambient_colour=(0.75, 0.78, 0.82), ambient_strength=(0.75, 0.95),
                      sky_zenith=(0.55, 0.58, 0.63), sky_horizon=(0.75, 0.77, 0.8), cloud_cover=(0.6, 1.0),
                      fog_density=(0.004, 0.01), fog_colour=(0.7, 0.72, 0.75), noise_sigma=(2.0, 4.0),
                      exposure=(1.0, 1.2)),
}


@dataclass(frozen=True)
class Lighting:
    """One draw of a :class:`Style`: unit vector towards the sun ``sun_dir`` (3,) in the street frame, light
    colours premultiplied by strength, fog density, noise level, exposure and cloud cover. ``shadow_snap``
    anchors the shadow map's cells to a fixed street-frame lattice (sequences set it, so static shadows stay
    put from frame to frame; single images keep the map fitted to the visible ground)."""

    style: Style
    sun_dir: np.ndarray
    sun: np.ndarray
    ambient: np.ndarray
    fog_density: float
    noise_sigma: float
    exposure: float
    cloud_cover: float
    shadow_snap: bool = False


def sample_lighting(style: Style, rng: np.random.Generator) -> Lighting:
    """Draw the lighting of one render from ``style``'s ranges."""
    elev, azim = rng.uniform(*style.sun_elevation), rng.uniform(-np.pi, np.pi)
    sun_dir = np.array([np.cos(elev) * np.sin(azim), np.sin(elev), np.cos(elev) * np.cos(azim)], np.float32)
    return Lighting(
        style=style, sun_dir=sun_dir,
        sun=np.float32(rng.uniform(*style.sun_strength)) * np.array(style.sun_colour, np.float32),
        ambient=np.float32(rng.uniform(*style.ambient_strength)) * np.array(style.ambient_colour, np.float32),
        fog_density=rng.uniform(*style.fog_density), noise_sigma=rng.uniform(*style.noise_sigma),
        exposure=rng.uniform(*style.exposure), cloud_cover=rng.uniform(*style.cloud_cover))
