"""Cityscapes train IDs used by SynthDrive and the subset the renderer can produce."""
from typing import Tuple

#: The 19 Cityscapes evaluation classes, indexed by train ID.
CITYSCAPES_CLASSES: Tuple[str, ...] = (
    'road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign',
    'vegetation', 'terrain', 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle',
    'bicycle')

ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, TRAFFIC_LIGHT, TRAFFIC_SIGN = range(8)
VEGETATION, TERRAIN, SKY, PERSON, RIDER, CAR, TRUCK, BUS = range(8, 16)
TRAIN, MOTORCYCLE, BICYCLE = range(16, 19)
IGNORE = 255

#: Train IDs that can occur in a SynthDrive label map (255 = ignore marks street clutter with no class).
SYNTHDRIVE_CLASSES_PRESENT: Tuple[int, ...] = (
    ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, TRAFFIC_LIGHT, TRAFFIC_SIGN, VEGETATION, TERRAIN, SKY,
    PERSON, RIDER, CAR, TRUCK, BUS, MOTORCYCLE, BICYCLE)
