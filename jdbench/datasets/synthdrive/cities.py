"""City layouts: the geometry and content ranges a SynthDrive scene is sampled from.

A :class:`City` changes what is in the world and where the camera is (street width, camera height and pitch,
building heights and gaps, how many vehicles, riders and pedestrians), never the appearance: that is a
style's job. City ``'A'`` holds the ranges SynthDrive always had (its scenes are unchanged, bit for bit);
``'B'`` is a dense downtown seen from a higher camera, so a model trained on one city meets other geometry and
other object densities in the other (a domain shift beyond appearance). See docs/synthdrive.md, "Domains".
"""
import zlib
from dataclasses import dataclass
from typing import Dict, Tuple

Range = Tuple[float, float]


@dataclass(frozen=True)
class City:
    """Sampling ranges of one city layout (metres, radians, probabilities, counts).

    Integer ranges are ``(low, high)`` with ``high`` exclusive (``rng.integers`` semantics).

    Attributes:
        lanes: number of lanes of the main road.
        lane_width: width of one lane.
        street_length: distance to the T-junction that ends the street (``Street.z_end``).
        side_streets: number of side streets drawn before overlapping ones are dropped.
        camera_height: camera height above the road.
        camera_pitch: camera pitch (> 0 = looking down).
        sidewalk_width: width of each sidewalk.
        verge_prob: probability of a grass verge behind a sidewalk.
        building_gap_prob: probability that a facade slot stays a gap (wall, fence, hedge or open).
        building_height: facade height before the tall-building factor.
        tall_prob: probability of a 1.8x taller building.
        parked_side_prob: probability that a side of the road has parked vehicles.
        parked_fill_prob: probability that a parking slot holds a vehicle.
        vehicles_per_lane: at most this many moving vehicles per lane (``0 .. k * lanes`` are drawn).
        max_riders: at most this many cyclists and motorcyclists.
        max_pedestrians: at most this many pedestrians on the sidewalks.
        crossing_people_prob: probability of people on a side-street crossing.
    """

    lanes: Tuple[int, int] = (2, 5)
    lane_width: Range = (2.9, 3.6)
    street_length: Range = (50.0, 92.0)
    side_streets: Tuple[int, int] = (0, 3)
    camera_height: Range = (1.15, 1.75)
    camera_pitch: Range = (-0.01, 0.07)
    sidewalk_width: Range = (1.8, 4.5)
    verge_prob: float = 0.5
    building_gap_prob: float = 0.22
    building_height: Range = (4.0, 16.0)
    tall_prob: float = 0.2
    parked_side_prob: float = 0.6
    parked_fill_prob: float = 0.7
    vehicles_per_lane: int = 2
    max_riders: int = 2
    max_pedestrians: int = 9
    crossing_people_prob: float = 0.5


#: City layouts by name. ``'A'`` is SynthDrive's original city (the default everywhere).
CITIES: Dict[str, City] = {
    'A': City(),
    'B': City(lanes=(3, 6), lane_width=(3.2, 3.8), street_length=(60.0, 100.0), side_streets=(1, 4),
              camera_height=(2.0, 2.6), camera_pitch=(0.04, 0.11), sidewalk_width=(3.0, 6.0), verge_prob=0.15,
              building_gap_prob=0.06, building_height=(12.0, 30.0), tall_prob=0.4, parked_side_prob=0.95,
              parked_fill_prob=0.9, vehicles_per_lane=3, max_riders=5, max_pedestrians=24,
              crossing_people_prob=0.85),
}
DEFAULT_CITY = 'A'


def get_city(name: str) -> City:
    """The :class:`City` called ``name`` (a key of :data:`CITIES`)."""
    if name not in CITIES:
        raise KeyError(f'unknown SynthDrive city {name!r}; choose from {sorted(CITIES)}')
    return CITIES[name]


def city_stream_tags(name: str) -> Tuple[int, ...]:
    """Extra seed words of the geometry stream of city ``name``: none for the default city (its scenes are
    SynthDrive's original ones), a hash of the name otherwise (so the same seed gives an unrelated scene)."""
    get_city(name)
    return () if name == DEFAULT_CITY else (zlib.crc32(f'city/{name}'.encode()), )
