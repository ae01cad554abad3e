"""Writes SynthDrive in the GTA5 file layout (Richter et al. 2016), so the GTA5 loader reads it unchanged::

    images/{n:05d}.png    RGB image; n = 1, 2, ... (train images first, then val)
    labels/{n:05d}.png    8-bit palette PNG of Cityscapes *label IDs* (not train IDs), Cityscapes palette
    train.txt, val.txt    the file names of each split, one per line (as AdaptSegNet's gta5_list/train.txt)
    synthdrive_meta.json  generation arguments, classes, the label encoding

Image ``i`` of a split is rendered exactly as by :func:`~jdbench.datasets.synthdrive.generate_synthdrive`
(same :func:`sample_seed`, same renderer), so its label IDs mapped to train IDs equal the Cityscapes-layout
labels of the same arguments. Segmentation only: GTA5 has no depth, so none is written.
"""
import json
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
from mmengine.logging import MMLogger, print_log
from mmengine.utils import ProgressBar
from PIL import Image

from .cities import DEFAULT_CITY, get_city
from .classes import CITYSCAPES_CLASSES, IGNORE, SYNTHDRIVE_CLASSES_PRESENT
from .render import render_sample
from .styles import STYLES
from .writer import _PNG, META_FILE, sample_seed

#: Cityscapes label ID of each train ID 0..18 (cityscapesscripts' labels.py); ignore (255) -> 0 'unlabeled'.
TRAINID_TO_LABELID: Tuple[int, ...] = (7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32,
                                       33)
UNLABELED_ID = 0
#: Cityscapes colour of every label ID 0..33 (the palette real GTA5 label PNGs carry).
LABELID_PALETTE: Tuple[Tuple[int, int, int], ...] = (
    (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0), (111, 74, 0), (81, 0, 81), (128, 64, 128),
    (244, 35, 232), (250, 170, 160), (230, 150, 140), (70, 70, 70), (102, 102, 156), (190, 153, 153),
    (180, 165, 180), (150, 100, 100), (150, 120, 90), (153, 153, 153), (153, 153, 153), (250, 170, 30),
    (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142),
    (0, 0, 70), (0, 60, 100), (0, 0, 90), (0, 0, 110), (0, 80, 100), (0, 0, 230), (119, 11, 32))
#: Largest image number of the 5-digit GTA5 names.
MAX_IMAGES = 99999


def to_label_ids(train_ids: np.ndarray) -> np.ndarray:
    """Cityscapes label IDs (uint8, same shape) of a train-ID map; 255 (ignore) becomes 0 ('unlabeled')."""
    lut = np.full(256, UNLABELED_ID, np.uint8)
    lut[:len(TRAINID_TO_LABELID)] = TRAINID_TO_LABELID
    return lut[train_ids]


def gta5_name(split: str, index: int, num_train: int) -> str:
    """File name of image ``index`` of ``split``: train images are ``00001.png ...``, val images follow."""
    offset = {'train': 0, 'val': num_train}[split]
    return f'{offset + index + 1:05d}.png'


def gta5_paths(out_dir: str, name: str) -> Dict[str, str]:
    """Paths of the two files of one image: keys ``img``, ``label``."""
    return {'img': osp.join(out_dir, 'images', name), 'label': osp.join(out_dir, 'labels', name)}


def write_gta5_sample(paths: Dict[str, str], sample: Dict[str, object]) -> None:
    """Write one :func:`render_sample` result: the RGB image and the label-ID palette PNG."""
    for path in paths.values():
        os.makedirs(osp.dirname(path), exist_ok=True)
    cv2.imwrite(paths['img'], np.ascontiguousarray(sample['img'][..., ::-1]), _PNG)
    label = Image.fromarray(to_label_ids(sample['label']))
    label.putpalette([v for rgb in LABELID_PALETTE for v in rgb])          # 'L' -> 'P', values unchanged
    label.save(paths['label'], format='PNG', compress_level=1)


def generate_synthdrive_gta5(out_dir: str, num_train: int, num_val: int, size: Tuple[int, int] = (128, 256),
                             seed: int = 0, style: str = 'day', logger: Optional[MMLogger] = None,
                             city: str = DEFAULT_CITY) -> dict:
    """Render ``num_train`` + ``num_val`` images into ``out_dir`` in the GTA5 layout (see the module doc).

    Arguments and the returned summary are those of
    :func:`~jdbench.datasets.synthdrive.generate_synthdrive`; the summary's ``layout`` is ``'gta5'``.
    """
    if style not in STYLES:
        raise KeyError(f'unknown SynthDrive style {style!r}; choose from {sorted(STYLES)}')
    get_city(city)
    if num_train + num_val > MAX_IMAGES:
        raise ValueError(f'the GTA5 layout numbers images with 5 digits: at most {MAX_IMAGES} images, got '
                         f'{num_train} + {num_val}; render fewer or use the Cityscapes layout.')
    size = (int(size[0]), int(size[1]))
    jobs = [(split, i) for split, n in (('train', num_train), ('val', num_val)) for i in range(n)]
    os.makedirs(out_dir, exist_ok=True)
    bar = ProgressBar(len(jobs)) if logger is None and jobs else None
    names: Dict[str, List[str]] = {'train': [], 'val': []}
    start, cpu_start = time.perf_counter(), time.process_time()
    for k, (split, index) in enumerate(jobs):
        sample = render_sample(sample_seed(seed, split, index), size, style, city)
        name = gta5_name(split, index, num_train)
        write_gta5_sample(gta5_paths(out_dir, name), sample)
        names[split].append(name)
        if bar is not None:
            bar.update()
        elif logger is not None and (k + 1) % max(1, len(jobs) // 10) == 0:
            print_log(f'SynthDrive (GTA5 layout): {k + 1}/{len(jobs)} images', logger=logger)
    for split, split_names in names.items():
        with open(osp.join(out_dir, f'{split}.txt'), 'w') as f:
            f.write(''.join(f'{n}\n' for n in split_names))
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    meta = {
        'dataset': 'SynthDrive',
        'format_version': 1,
        'generator': 'jdbench.datasets.synthdrive',
        'layout': 'gta5',
        'seed': seed, 'size': list(size), 'style': style, 'city': city, 'num_train': num_train,
        'num_val': num_val,
        'splits': {split: {'num_images': len(n), 'list': f'{split}.txt'} for split, n in names.items()},
        'classes': list(CITYSCAPES_CLASSES),
        'classes_present': list(SYNTHDRIVE_CLASSES_PRESENT),
        'label_encoding': 'Cityscapes label IDs (palette PNG); train ID t is label ID trainid_to_labelid[t], '
                          f'ignore ({IGNORE}) is {UNLABELED_ID} (unlabeled)',
        'trainid_to_labelid': list(TRAINID_TO_LABELID),
    }
    meta_file = osp.join(out_dir, META_FILE)          # written last: its presence marks a complete dataset
    with open(meta_file, 'w') as f:
        json.dump(meta, f, indent=2)
    rate = len(jobs) / seconds if seconds > 0 else float('inf')
    cpu_rate = len(jobs) / cpu_seconds if cpu_seconds > 0 else float('inf')
    print_log(f'SynthDrive: wrote {len(jobs)} images ({num_train} train, {num_val} val, {size[0]}x{size[1]}, '
              f'style {style}, city {city}) to {out_dir} in the GTA5 layout in {seconds:.1f} s: '
              f'{rate:.1f} images/s ({cpu_rate:.1f} per CPU second)', logger=logger)
    return {'out_dir': out_dir, 'num_train': num_train, 'num_val': num_val, 'num_images': len(jobs),
            'size': size, 'seed': seed, 'style': style, 'city': city, 'layout': 'gta5', 'seconds': seconds,
            'images_per_s': rate, 'cpu_seconds': cpu_seconds, 'images_per_cpu_s': cpu_rate,
            'meta_file': meta_file}
