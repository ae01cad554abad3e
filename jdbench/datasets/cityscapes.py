"""Cityscapes (or any data in its layout) with semantic labels and depth from disparity + camera."""
import hashlib
import math
import os.path as osp
from typing import Dict, List, Optional, Sequence, Set

import mmengine.fileio as fileio
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset, CityscapesDataset

from jdbench.registry import DATASETS
from .transforms.loading import DEPTH_MODES, load_camera

CITYSCAPES_CLASSES = tuple(CityscapesDataset.METAINFO['classes'])
CITYSCAPES_PALETTE = [list(c) for c in CityscapesDataset.METAINFO['palette']]
CATEGORY_CLASSES = ('flat', 'construction', 'object', 'nature', 'sky', 'human', 'vehicle')
CATEGORY_PALETTE = [[128, 64, 128], [70, 70, 70], [153, 153, 153], [107, 142, 35], [70, 130, 180],
                    [220, 20, 60], [0, 0, 142]]
# Train ID (index) -> Cityscapes category: road, sidewalk -> flat; building, wall, fence -> construction;
# pole, traffic light, traffic sign -> object; vegetation, terrain -> nature; sky; person, rider -> human;
# car, truck, bus, train, motorcycle, bicycle -> vehicle.
TRAINID_TO_CATEGORY = (0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 5, 6, 6, 6, 6, 6, 6)

# label_set -> classes, palette and the map from raw train IDs (every valid value except 255) to labels.
LABEL_SETS: Dict[str, dict] = {
    'trainid': dict(classes=CITYSCAPES_CLASSES, palette=CITYSCAPES_PALETTE,
                    label_map={i: i for i in range(len(CITYSCAPES_CLASSES))}),
    'category': dict(classes=CATEGORY_CLASSES, palette=CATEGORY_PALETTE,
                     label_map=dict(enumerate(TRAINID_TO_CATEGORY))),
}

HOLDOUT_DEFAULTS = dict(fraction=0.05, min_count=32, seed=0, part='train')


def select_holdout(keys: Sequence[str], fraction: float, min_count: int = 0, seed: int = 0) -> Set[str]:
    """Pick ``min(N, max(min_count, ceil(fraction * N)))`` of ``N`` keys, deterministically.

    Keys are ranked by ``sha1(f'{seed}/{key}')``, so the choice depends only on the keys and the seed (not on
    their order, numpy's RNG or the machine).
    """
    n = min(len(keys), max(int(min_count), math.ceil(round(fraction * len(keys), 9))))
    ranked = sorted(keys, key=lambda k: hashlib.sha1(f'{seed}/{k}'.encode()).hexdigest())
    return set(ranked[:n])


def apply_holdout(data_list: List[dict], holdout: dict, where: str, name: str) -> List[dict]:
    """Keep the training or the held-out part of ``data_list`` (keys ``img_rel_path``), by the
    seeded rule of :func:`select_holdout`; ``where`` and ``name`` only word the messages."""
    keys = [info['img_rel_path'] for info in data_list]
    held = select_holdout(keys, holdout['fraction'], holdout['min_count'], holdout['seed'])
    keep_held = holdout['part'] == 'holdout'
    kept = [info for info in data_list if (info['img_rel_path'] in held) == keep_held]
    if not kept:
        raise ValueError(f'holdout={holdout} leaves no images for part {holdout["part"]!r} out of '
                         f'{len(data_list)} in {where}; lower fraction/min_count.')
    print_log(f'{name}: holdout part {holdout["part"]!r} keeps {len(kept)} of {len(data_list)} images '
              f'({len(held)} held out, seed {holdout["seed"]}).', logger='current')
    return kept


@DATASETS.register_module()
class CityscapesJointDataset(BaseSegDataset):
    """Cityscapes-layout dataset with semantic labels and depth.

    Layout under ``data_root`` (cities are scanned recursively, files sorted)::

        leftImg8bit/{split}/{city}/*_leftImg8bit.png
        gtFine/{split}/{city}/*_gtFine_labelTrainIds.png   train IDs, 255 = ignore
        disparity/{split}/{city}/*_disparity.png           uint16, p = disparity * 256 + 1, 0 = invalid
        camera/{split}/{city}/*_camera.json                extrinsic.baseline, intrinsic.fx, ...

    Every image must have its label, disparity and camera files (checked at construction; camera files are
    parsed and validated then and stored in the data info as ``camera``). Load samples with
    ``LoadImageFromFile`` + ``LoadJointAnnotations``, which give ``gt_seg_map`` (uint8) and ``gt_depth_map``
    (float32, 0 = invalid).

    Args:
        split (str): Sub-folder of each modality. Defaults to ``'train'``.
        label_set (str): ``'trainid'`` (19 classes) or ``'category'`` (7 Cityscapes categories).
        depth_mode (str): ``'metric'`` (z-depth in metres, ``baseline * fx / disparity``) or ``'disparity'``
            (disparity in pixels, i.e. inverse depth up to ``baseline * fx``: the MTAN convention).
            Invalid pixels are 0 in both.
        holdout (dict, optional): Deterministic held-out subset, keys ``fraction`` (0.05), ``min_count`` (32),
            ``seed`` (0), ``part`` (``'train'``: all images but the held-out ones; ``'holdout'``: only them).
            None: all images.
        data_prefix (dict, optional): ``img_path``, ``seg_map_path``, ``disparity_path``, ``camera_path``
            relative to ``data_root``. None: ``leftImg8bit/{split}``, ``gtFine/{split}``, ...
        img_suffix, seg_map_suffix, disparity_suffix, camera_suffix (str): File name endings.
        **kwargs: :class:`mmseg.datasets.BaseSegDataset` arguments (``data_root``, ``pipeline``, ...).
    """
    METAINFO = dict(classes=CITYSCAPES_CLASSES, palette=CITYSCAPES_PALETTE)

    def __init__(self,
                 split: str = 'train',
                 label_set: str = 'trainid',
                 depth_mode: str = 'metric',
                 holdout: Optional[dict] = None,
                 data_prefix: Optional[dict] = None,
                 img_suffix: str = '_leftImg8bit.png',
                 seg_map_suffix: str = '_gtFine_labelTrainIds.png',
                 disparity_suffix: str = '_disparity.png',
                 camera_suffix: str = '_camera.json',
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        if label_set not in LABEL_SETS:
            raise ValueError(f'label_set must be one of {tuple(LABEL_SETS)}, got {label_set!r}')
        if depth_mode not in DEPTH_MODES:
            raise ValueError(f'depth_mode must be one of {DEPTH_MODES}, got {depth_mode!r}')
        self.split = split
        self.label_set = label_set
        self.depth_mode = depth_mode
        self.holdout = self._check_holdout(holdout)
        self.disparity_suffix = disparity_suffix
        self.camera_suffix = camera_suffix
        if data_prefix is None:
            data_prefix = dict(img_path=f'leftImg8bit/{split}', seg_map_path=f'gtFine/{split}',
                               disparity_path=f'disparity/{split}', camera_path=f'camera/{split}')
        label_meta = LABEL_SETS[label_set]
        metainfo = {'classes': label_meta['classes'], 'palette': label_meta['palette'], **(metainfo or {})}
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, data_prefix=data_prefix,
                         metainfo=metainfo, **kwargs)
        self._metainfo.update(label_set=label_set, depth_mode=depth_mode)

    @staticmethod
    def _check_holdout(holdout: Optional[dict]) -> Optional[dict]:
        if holdout is None:
            return None
        unknown = set(holdout) - set(HOLDOUT_DEFAULTS)
        if unknown:
            raise ValueError(f'holdout has unknown key(s) {sorted(unknown)}; '
                             f'allowed: {list(HOLDOUT_DEFAULTS)}')
        cfg = {**HOLDOUT_DEFAULTS, **holdout}
        if cfg['part'] not in ('train', 'holdout'):
            raise ValueError(f"holdout part must be 'train' or 'holdout', got {cfg['part']!r}")
        if not 0 <= cfg['fraction'] <= 1 or cfg['min_count'] < 0:
            raise ValueError(f'holdout needs 0 <= fraction <= 1 and min_count >= 0, got {holdout}')
        return cfg

    def get_label_map(self, new_classes: Optional[Sequence] = None) -> Dict[int, int]:
        """Map from raw train IDs to this dataset's labels (identity, or train ID -> category).

        Its keys are every valid raw value besides 255, which ``LoadJointAnnotations`` checks labels against.
        """
        ref = LABEL_SETS[self.label_set]
        if new_classes is not None and tuple(new_classes) != tuple(ref['classes']):
            raise ValueError(f'metainfo classes {tuple(new_classes)} do not match '
                             f'label_set={self.label_set!r} classes {ref["classes"]}; choose the classes '
                             f'with label_set ({" or ".join(map(repr, LABEL_SETS))}).')
        return dict(ref['label_map'])

    def layout_message(self) -> str:
        """The expected file layout, for error messages."""
        p = self.data_prefix
        return ('Expected layout (cities are sub-folders):\n'
                f'  {p["img_path"]}/{{city}}/*{self.img_suffix}\n'
                f'  {p["seg_map_path"]}/{{city}}/*{self.seg_map_suffix}   (train IDs, 255 = ignore)\n'
                f'  {p["disparity_path"]}/{{city}}/*{self.disparity_suffix}   '
                '(uint16, p = disparity * 256 + 1, 0 = invalid)\n'
                f'  {p["camera_path"]}/{{city}}/*{self.camera_suffix}')

    def how_to_get_data(self) -> str:
        """How to obtain the data, for error messages."""
        return ('To get Cityscapes: download leftImg8bit_trainvaltest.zip, gtFine_trainvaltest.zip, '
                'disparity_trainvaltest.zip and camera_trainvaltest.zip from '
                f'https://www.cityscapes-dataset.com, unzip them into {self.data_root}, then run '
                f'cityscapesscripts\' createTrainIdLabelImgs (CITYSCAPES_DATASET={self.data_root} '
                f'csCreateTrainIdLabelImgs) to write the *{self.seg_map_suffix} files. For synthetic data in '
                'this layout run `python tools/dataset_converters/synthdrive.py` (or use SynthDriveDataset, '
                'which renders it).')

    def _missing(self, what: str) -> FileNotFoundError:
        return FileNotFoundError(f'{what}.\n{self.layout_message()}\n{self.how_to_get_data()}')

    def load_data_list(self) -> List[dict]:
        """Scan the image folder and pair every image with its label, disparity and camera files."""
        if self.data_root is not None and not fileio.isdir(self.data_root, backend_args=self.backend_args):
            raise self._missing(f'{self.__class__.__name__}: data root {self.data_root} does not exist')
        img_dir = self.data_prefix['img_path']
        if not fileio.isdir(img_dir, backend_args=self.backend_args):
            raise self._missing(f'{self.__class__.__name__}: image folder {img_dir} (split {self.split!r}) '
                                'does not exist')
        rel_paths = sorted(fileio.list_dir_or_file(img_dir, list_dir=False, suffix=self.img_suffix,
                                                   recursive=True, backend_args=self.backend_args))
        if not rel_paths:
            raise self._missing(f'{self.__class__.__name__}: no *{self.img_suffix} images under {img_dir}')

        others = (('seg_map_path', self.seg_map_suffix, 'label', 'run createTrainIdLabelImgs on gtFine'),
                  ('disparity_path', self.disparity_suffix, 'disparity',
                   'extract disparity_trainvaltest.zip'),
                  ('camera_path', self.camera_suffix, 'camera', 'extract camera_trainvaltest.zip'))
        data_list, missing = [], {key: [] for key, *_ in others}
        for rel in rel_paths:
            stem = rel[:-len(self.img_suffix)]
            info = dict(img_path=osp.join(img_dir, rel), img_rel_path=rel)
            for key, suffix, *_ in others:
                info[key] = osp.join(self.data_prefix[key], stem + suffix)
                if not fileio.isfile(info[key], backend_args=self.backend_args):
                    missing[key].append((info['img_path'], info[key]))
            data_list.append(info)
        for key, _, what, fix in others:
            if missing[key]:
                examples = '\n'.join(f'  {img} -> expected {ann}' for img, ann in missing[key][:3])
                raise FileNotFoundError(
                    f'{len(missing[key])} of {len(rel_paths)} images in {img_dir} have no {what} file, e.g.\n'
                    f'{examples}\nProvide the {what} files ({fix}) or remove those images.\n'
                    f'{self.layout_message()}')

        if self.holdout is not None:
            data_list = apply_holdout(data_list, self.holdout, self.data_prefix['img_path'],
                                      f'{self.__class__.__name__} ({self.split})')
        for info in data_list:
            info.update(camera=load_camera(info['camera_path'], self.backend_args), label_map=self.label_map,
                        reduce_zero_label=self.reduce_zero_label, depth_mode=self.depth_mode, seg_fields=[])
        return data_list
