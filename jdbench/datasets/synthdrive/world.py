"""Sampling of a whole SynthDrive scene from a seed: the geometry random stream only."""
import numpy as np

from .actors import add_pedestrians, add_traffic
from .cities import DEFAULT_CITY, city_stream_tags, get_city
from .furniture import add_crossing_signals, add_side_furniture
from .layout import add_building_row, add_far_rows, add_sidewalks, sample_pose, sample_street
from .scene import Scene, SceneBuilder

#: Stream tags mixed into a sample's seed so geometry, appearance and style noise are independent.
GEOMETRY_STREAM, APPEARANCE_STREAM, STYLE_STREAM = 0, 1, 2


def stream(seed: int, tag: int, *extra: int) -> np.random.Generator:
    """An explicitly seeded generator for one random stream (``tag``) of sample ``seed`` (>= 0)."""
    if seed < 0:
        raise ValueError(f'SynthDrive seeds must be >= 0, got {seed}')
    return np.random.default_rng(np.random.SeedSequence([seed, tag, *extra]))


def sample_scene(seed: int, city: str = DEFAULT_CITY) -> Scene:
    """The world of sample ``seed`` in ``city`` (a key of ``cities.CITIES``): street, camera pose, buildings,
    furniture, greenery, traffic, people. Independent of image size and style."""
    profile = get_city(city)
    rng = stream(seed, GEOMETRY_STREAM, *city_stream_tags(city))
    street = sample_street(rng, profile)
    pose = sample_pose(rng, street, profile)
    b = SceneBuilder()
    walks, lines = [], []
    for side in (-1, 1):
        walk, curb = rng.uniform(*profile.sidewalk_width), rng.uniform(0.1, 0.18)
        grass = rng.uniform(1.0, 4.0) if rng.random() < profile.verge_prob else 0.0
        add_sidewalks(b, street, side, walk, curb)
        line = street.road_half + walk + grass
        gaps = add_building_row(b, rng, street, side, line, profile)
        add_side_furniture(b, rng, street, side, walk, grass, gaps)
        walks.append(walk)
        lines.append(line)
    add_far_rows(b, rng, street, (lines[0], lines[1]))
    add_crossing_signals(b, rng, street)
    taken = add_traffic(b, rng, street, pose.x, profile)
    add_pedestrians(b, rng, street, (walks[0], walks[1]), taken, profile)
    return Scene(pose=pose, street=street, prims=b.build(), movers=dict(b.movers))
