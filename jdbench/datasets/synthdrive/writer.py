"""Writes SynthDrive in the Cityscapes file layout, so the Cityscapes loader reads it unchanged::

    leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png       RGB image, stem = {city}_{seq:06d}_{frame:06d}
    gtFine/{split}/{city}/{stem}_gtFine_labelTrainIds.png   uint8 train IDs, 255 = ignore
    disparity/{split}/{city}/{stem}_disparity.png           uint16, see encode_disparity
    camera/{split}/{city}/{stem}_camera.json                Cityscapes camera.json
    synthdrive_meta.json                                    generation arguments, classes
"""
import json
import os
import os.path as osp
import time
from typing import Dict, Optional, Tuple

import cv2
import numpy as np
from mmengine.logging import MMLogger, print_log
from mmengine.utils import ProgressBar

from .camera import BASELINE
from .cities import DEFAULT_CITY, get_city
from .classes import CITYSCAPES_CLASSES, IGNORE, SYNTHDRIVE_CLASSES_PRESENT
from .render import render_sample
from .styles import STYLES

#: Cities of each split; image ``index`` of a split goes to ``cities[index % len(cities)]``.
SPLIT_CITIES: Dict[str, Tuple[str, ...]] = {'train': ('synth_a', 'synth_b'), 'val': ('synth_v',)}
_SPLIT_TAGS = {'train': 0, 'val': 1}
#: Frame number in every file name (Cityscapes' annotated frame is the 20th of a snippet).
FRAME = 19
META_FILE = 'synthdrive_meta.json'
# Fast deterministic PNG settings: zlib level 1, run-length strategy, the "sub" row filter where supported.
_PNG = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
if hasattr(cv2, 'IMWRITE_PNG_FILTER'):
    _PNG += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB]


def sample_seed(seed: int, split: str, index: int) -> int:
    """The render seed of image ``index`` of ``split``: a function of ``(seed, split, index)`` only."""
    state = np.random.SeedSequence([seed, _SPLIT_TAGS[split], index]).generate_state(1, np.uint64)
    return int(state[0])


def sample_stem(split: str, index: int) -> Tuple[str, str]:
    """``(city, stem)`` of image ``index`` of ``split``, e.g. ``('synth_b', 'synth_b_000000_000019')``."""
    cities = SPLIT_CITIES[split]
    city = cities[index % len(cities)]
    return city, f'{city}_{index // len(cities):06d}_{FRAME:06d}'


def sample_paths(out_dir: str, split: str, index: int) -> Dict[str, str]:
    """Paths of the four files of one image: keys ``img``, ``label``, ``disparity``, ``camera``."""
    city, stem = sample_stem(split, index)
    return {
        'img': osp.join(out_dir, 'leftImg8bit', split, city, f'{stem}_leftImg8bit.png'),
        'label': osp.join(out_dir, 'gtFine', split, city, f'{stem}_gtFine_labelTrainIds.png'),
        'disparity': osp.join(out_dir, 'disparity', split, city, f'{stem}_disparity.png'),
        'camera': osp.join(out_dir, 'camera', split, city, f'{stem}_camera.json'),
    }


def encode_disparity(depth: np.ndarray, baseline: float, fx: float) -> np.ndarray:
    """Cityscapes disparity PNG values (uint16) of a z-depth map:
    ``p = round(baseline * fx / depth * 256) + 1`` where ``depth > 0`` (clipped to 65535), 0 elsewhere."""
    valid = depth > 0
    disp = np.where(valid, baseline * fx / np.where(valid, depth, 1.0), 0.0)
    p = np.minimum(np.round(disp * 256.0) + 1.0, 65535.0)
    return np.where(valid, p, 0).astype(np.uint16)


def decode_disparity(p: np.ndarray, baseline: float, fx: float) -> np.ndarray:
    """Inverse of :func:`encode_disparity`: z-depth in metres (float32), 0 where ``p <= 1``."""
    disp = (p.astype(np.float64) - 1.0) / 256.0
    valid = disp > 0
    return np.where(valid, baseline * fx / np.where(valid, disp, 1.0), 0.0).astype(np.float32)


def write_sample(paths: Dict[str, str], sample: Dict[str, object]) -> None:
    """Write one :func:`render_sample` result to ``paths`` (from :func:`sample_paths`)."""
    for path in paths.values():
        os.makedirs(osp.dirname(path), exist_ok=True)
    camera = sample['camera']
    cv2.imwrite(paths['img'], np.ascontiguousarray(sample['img'][..., ::-1]), _PNG)
    cv2.imwrite(paths['label'], sample['label'], _PNG)
    disparity = encode_disparity(sample['depth'], camera['extrinsic']['baseline'], camera['intrinsic']['fx'])
    cv2.imwrite(paths['disparity'], disparity, _PNG)
    with open(paths['camera'], 'w') as f:
        json.dump(camera, f, indent=2)


def write_meta(out_dir: str, **args) -> str:
    """Write ``synthdrive_meta.json`` (generation arguments, splits, classes, encodings); returns its path."""
    meta = {
        'dataset': 'SynthDrive',
        'format_version': 1,
        'generator': 'jdbench.datasets.synthdrive',
        **args,
        'splits': {split: {'num_images': args[f'num_{split}'], 'cities': list(cities)}
                   for split, cities in SPLIT_CITIES.items()},
        'classes': list(CITYSCAPES_CLASSES),
        'classes_present': list(SYNTHDRIVE_CLASSES_PRESENT),
        'ignore_index': IGNORE,
        'label_suffix': '_gtFine_labelTrainIds.png',
        'disparity': {'encoding': 'p = round(baseline * fx / depth * 256) + 1; 0 = no depth (sky)',
                      'baseline': BASELINE},
        'camera': {'extrinsic_z': 'camera height above the road (m)',
                   'pitch': 'radians, positive = optical axis tilted down', 'roll': 0.0, 'yaw': 0.0},
    }
    path = osp.join(out_dir, META_FILE)
    with open(path, 'w') as f:
        json.dump(meta, f, indent=2)
    return path


def generate_synthdrive(out_dir: str, num_train: int, num_val: int, size: Tuple[int, int] = (128, 256),
                        seed: int = 0, style: str = 'day', logger: Optional[MMLogger] = None,
                        city: str = DEFAULT_CITY, layout: str = 'cityscapes') -> dict:
    """Render ``num_train`` + ``num_val`` images into ``out_dir`` in the Cityscapes layout.

    Image ``i`` of a split is rendered from :func:`sample_seed` ``(seed, split, i)``, so adding images never
    changes earlier ones. Progress is logged through ``logger`` (every 10 %) or shown with a progress bar.
    Returns a summary with ``num_images``, ``seconds`` and ``images_per_s`` (wall clock), and
    ``cpu_seconds`` and ``images_per_cpu_s`` (this process's CPU time, which a busy machine does not inflate).
    ``city`` picks the street layout (``cities.CITIES``); ``layout='gta5'`` writes the GTA5 layout instead
    (:func:`~jdbench.datasets.synthdrive.gta5_writer.generate_synthdrive_gta5`).
    """
    if layout == 'gta5':
        from .gta5_writer import generate_synthdrive_gta5
        return generate_synthdrive_gta5(out_dir, num_train, num_val, size=size, seed=seed, style=style,
                                        logger=logger, city=city)
    if layout != 'cityscapes':
        raise ValueError(f"unknown SynthDrive layout {layout!r}; choose 'cityscapes' or 'gta5'")
    if style not in STYLES:
        raise KeyError(f'unknown SynthDrive style {style!r}; choose from {sorted(STYLES)}')
    get_city(city)
    size = (int(size[0]), int(size[1]))
    jobs = [(split, i) for split, n in (('train', num_train), ('val', num_val)) for i in range(n)]
    os.makedirs(out_dir, exist_ok=True)
    bar = ProgressBar(len(jobs)) if logger is None and jobs else None
    start, cpu_start = time.perf_counter(), time.process_time()
    for k, (split, index) in enumerate(jobs):
        sample = render_sample(sample_seed(seed, split, index), size, style, city)
        write_sample(sample_paths(out_dir, split, index), sample)
        if bar is not None:
            bar.update()
        elif logger is not None and (k + 1) % max(1, len(jobs) // 10) == 0:
            print_log(f'SynthDrive: {k + 1}/{len(jobs)} images', logger=logger)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    # written last, so its presence means the images are complete
    # the default city is not recorded, so its files stay byte-identical to those of earlier versions
    extra = {} if city == DEFAULT_CITY else {'city': city}
    meta = write_meta(out_dir, seed=seed, size=list(size), style=style, num_train=num_train, num_val=num_val,
                      **extra)
    rate = len(jobs) / seconds if seconds > 0 else float('inf')
    cpu_rate = len(jobs) / cpu_seconds if cpu_seconds > 0 else float('inf')
    print_log(f'SynthDrive: wrote {len(jobs)} images ({num_train} train, {num_val} val, {size[0]}x{size[1]}, '
              f'style {style}, city {city}) to {out_dir} in {seconds:.1f} s: {rate:.1f} images/s '
              f'({cpu_rate:.1f} per CPU second)', logger=logger)
    return {'out_dir': out_dir, 'num_train': num_train, 'num_val': num_val, 'num_images': len(jobs),
            'size': size, 'seed': seed, 'style': style, 'city': city, 'layout': layout, 'seconds': seconds,
            'images_per_s': rate, 'cpu_seconds': cpu_seconds, 'images_per_cpu_s': cpu_rate, 'meta_file': meta}
