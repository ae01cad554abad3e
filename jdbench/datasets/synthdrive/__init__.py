"""SynthDrive: procedurally ray-cast driving scenes with exact labels and depth, in the Cityscapes layout.

``render_sample`` renders one image (RGB, train-ID labels, z-depth, camera.json dict) from a seed;
``generate_synthdrive`` writes a train/val dataset to disk. See docs/synthdrive.md.
"""
from .camera import BASELINE, Camera, CameraPose
from .cities import CITIES, City
from .classes import CITYSCAPES_CLASSES, IGNORE, SYNTHDRIVE_CLASSES_PRESENT
from .gta5_writer import generate_synthdrive_gta5
from .kitti_writer import render_sequences
from .render import render_sample
from .styles import STYLES, Style
from .writer import (FRAME, META_FILE, SPLIT_CITIES, decode_disparity, encode_disparity, generate_synthdrive,
                     sample_paths, sample_seed, sample_stem)

__all__ = [
    'render_sample', 'generate_synthdrive', 'generate_synthdrive_gta5', 'render_sequences', 'STYLES', 'Style',
    'CITIES', 'City',
    'SYNTHDRIVE_CLASSES_PRESENT',
    'CITYSCAPES_CLASSES', 'IGNORE', 'SPLIT_CITIES', 'FRAME', 'META_FILE', 'BASELINE', 'Camera', 'CameraPose',
    'encode_disparity', 'decode_disparity', 'sample_paths', 'sample_seed', 'sample_stem',
]
