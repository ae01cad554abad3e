"""The MTAN ``.npy`` releases of NYUv2 and Cityscapes (lorenmt/mtan), as LibMTL, KD4MTL, CAGrad and
Auto-Lambda users have them on disk.

Layout under ``data_root``: ``{split}/{image,label*,depth[,normal]}/{i}.npy`` with ``i = 0..N−1`` and
``split`` ``'train'`` or ``'val'``. Images are ``H×W×3`` RGB floats in ``[0, 1]``, labels ``H×W`` class
indices with −1 = ignore, depth ``H×W×1`` with 0 = invalid. Surface normals (``normal/``) are not loaded:
jdbench has no normal task.
"""
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence

import mmengine.fileio as fileio
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset

from jdbench.registry import DATASETS
from .cityscapes import CATEGORY_CLASSES, CATEGORY_PALETTE, CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from .nyuv2 import NYU13_CLASSES, apply_holdout, check_holdout
from .transforms.arrays import LoadNpyAnnotations

_INDEX_NAME = re.compile(r'^(0|[1-9][0-9]*)\.npy$')


class MTANDataset(BaseSegDataset):
    """Base of the MTAN-release datasets: scans one split and pairs image, label and depth files by index.

    Subclasses set ``LABEL_SETS`` (label set -> classes, palette and the label folders to try, in order),
    ``DEPTH_MODE``, ``RELEASE_SIZES`` (split sizes of the release, for the log) and ``how_to_get_data``.

    Args:
        split (str): ``'train'`` or ``'val'``.
        label_set (int): Number of classes; picks the label folder.
        holdout (dict, optional): Deterministic held-out subset, as in
            :class:`~jdbench.datasets.cityscapes.CityscapesJointDataset` (keys: the image file names).
        label_folder (str, optional): Label folder under ``{split}/``; None: the first of the label set's
            folders that exists.
        **kwargs: :class:`mmseg.datasets.BaseSegDataset` arguments (``data_root``, ``pipeline``, ...).
    """
    LABEL_SETS: Dict[int, dict] = {}
    DEPTH_MODE = 'metric'
    RELEASE_SIZES: Dict[str, int] = {}
    SPLITS = ('train', 'val')

    def __init__(self,
                 split: str = 'train',
                 label_set: Optional[int] = None,
                 holdout: Optional[dict] = None,
                 label_folder: Optional[str] = None,
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        if label_set is None:
            label_set = next(iter(self.LABEL_SETS))
        if label_set not in self.LABEL_SETS:
            raise ValueError(f'{self.__class__.__name__}: label_set must be one of {tuple(self.LABEL_SETS)}, '
                             f'got {label_set!r}')
        if split not in self.SPLITS:
            raise ValueError(f'{self.__class__.__name__}: split must be one of {self.SPLITS} (the folders of '
                             f'the MTAN release), got {split!r}')
        self.split, self.label_set, self.label_folder = split, label_set, label_folder
        self.holdout = check_holdout(holdout)
        meta = self.LABEL_SETS[label_set]
        metainfo = {'classes': meta['classes'], 'palette': meta['palette'], **(metainfo or {})}
        super().__init__(img_suffix='.npy', seg_map_suffix='.npy', metainfo=metainfo, **kwargs)
        self._metainfo.update(label_set=label_set, depth_mode=self.DEPTH_MODE)

    def get_label_map(self, new_classes: Optional[Sequence] = None) -> None:
        """None (the release stores class indices); checks the ``metainfo`` classes against ``label_set``."""
        ref = self.LABEL_SETS[self.label_set]['classes']
        if new_classes is not None and tuple(new_classes) != tuple(ref):
            raise ValueError(f'metainfo classes {tuple(new_classes)} do not match label_set={self.label_set} '
                             f'{tuple(ref)}; choose the classes with label_set ({tuple(self.LABEL_SETS)}).')
        return None

    def how_to_get_data(self) -> str:  # pragma: no cover  (overridden)
        return 'See docs/datasets.md.'

    def _error(self, what: str) -> FileNotFoundError:
        return FileNotFoundError(f'{self.__class__.__name__}: {what}.\n{self.layout_message()}\n'
                                 f'{self.how_to_get_data()}')

    def layout_message(self) -> str:
        folders = '|'.join(self.LABEL_SETS[self.label_set]['folders'])
        return (f'Expected layout under {self.data_root} (i = 0..N−1):\n'
                '  {train,val}/image/{i}.npy   H×W×3 RGB floats in [0, 1]\n'
                f'  {{train,val}}/{{{folders}}}/{{i}}.npy   H×W class indices 0..{self.label_set - 1}, '
                '−1 = ignore\n'
                '  {train,val}/depth/{i}.npy   H×W×1, 0 = invalid')

    def _resolve_label_folder(self, split_dir: str) -> str:
        candidates = ((self.label_folder, ) if self.label_folder is not None else
                      self.LABEL_SETS[self.label_set]['folders'])
        for name in candidates:
            if fileio.isdir(osp.join(split_dir, name), backend_args=self.backend_args):
                return name
        raise self._error(f'no label folder {" or ".join(candidates)} in {split_dir} for label_set='
                          f'{self.label_set}')

    def _scan(self, folder: str) -> List[int]:
        names = list(fileio.list_dir_or_file(folder, list_dir=False, suffix='.npy',
                                             backend_args=self.backend_args))
        bad = [n for n in names if not _INDEX_NAME.match(n)]
        if bad:
            raise self._error(f'{folder} holds files not named {{i}}.npy (e.g. {bad[0]})')
        return sorted(int(n[:-4]) for n in names)

    def load_data_list(self) -> List[dict]:
        """Scan ``{split}/image`` and pair every index with its label and depth files."""
        root = self.data_root or ''
        if root and not fileio.isdir(root, backend_args=self.backend_args):
            raise self._error(f'data root {root} does not exist')
        split_dir = osp.join(root, self.split)
        if not fileio.isdir(split_dir, backend_args=self.backend_args):
            raise self._error(f'split {self.split!r}: folder {split_dir} does not exist')
        img_dir = osp.join(split_dir, 'image')
        if not fileio.isdir(img_dir, backend_args=self.backend_args):
            raise self._error(f'image folder {img_dir} does not exist')
        indices = self._scan(img_dir)
        if not indices:
            raise self._error(f'no {{i}}.npy images in {img_dir}')
        if indices != list(range(len(indices))):
            gap = next(i for i, v in enumerate(indices) if v != i)
            raise self._error(f'{img_dir} holds {len(indices)} images but not 0..{len(indices) - 1} '
                              f'({gap}.npy is missing); the release numbers the images of a split from 0')
        label_folder = self._resolve_label_folder(split_dir)
        for folder in (label_folder, 'depth'):
            have = set(self._scan(osp.join(split_dir, folder))) if fileio.isdir(
                osp.join(split_dir, folder), backend_args=self.backend_args) else set()
            missing = [i for i in indices if i not in have]
            if missing:
                raise self._error(f'{len(missing)} of {len(indices)} images in {img_dir} have no file in '
                                  f'{osp.join(split_dir, folder)} (e.g. {missing[0]}.npy)')
        num_classes = len(self.LABEL_SETS[self.label_set]['classes'])
        # Fail now, not mid-training, when the label folder holds another label set.
        first_label = osp.join(split_dir, label_folder, f'{indices[0]}.npy')
        LoadNpyAnnotations(with_depth=False, backend_args=self.backend_args).transform(
            dict(seg_map_path=first_label, num_classes=num_classes))
        data_list = [
            dict(img_path=osp.join(img_dir, f'{i}.npy'), img_rel_path=f'{i}.npy',
                 seg_map_path=osp.join(split_dir, label_folder, f'{i}.npy'),
                 depth_path=osp.join(split_dir, 'depth', f'{i}.npy'), num_classes=num_classes,
                 depth_mode=self.DEPTH_MODE, reduce_zero_label=False, seg_fields=[]) for i in indices
        ]
        release = self.RELEASE_SIZES.get(self.split)
        note = '' if release in (None, len(data_list)) else f' (the MTAN release has {release})'
        name = f'{self.__class__.__name__} ({self.split})'
        print_log(f'{name}: {len(data_list)} images in {split_dir}, labels from {label_folder}/{note}.',
                  logger='current')
        if self.holdout is not None:
            data_list = apply_holdout(data_list, self.holdout, img_dir, name)
        return data_list


@DATASETS.register_module()
class NYUv2MTANDataset(MTANDataset):
    """NYUv2 in the MTAN release: 288×384, 13 classes (−1 = ignore), depth in metres (0 = invalid), 795/654.

    Load samples with ``LoadNpyImage`` + ``LoadNpyAnnotations``. The 13 classes are those of the official
    release's ``label_set=13`` (:data:`~jdbench.datasets.nyuv2.NYU13_CLASSES`, index = 13-class id − 1).
    """
    LABEL_SETS = {13: dict(classes=NYU13_CLASSES, palette=[], folders=('label', ))}
    DEPTH_MODE = 'metric'
    RELEASE_SIZES = dict(train=795, val=654)

    def __init__(self, label_set: int = 13, **kwargs) -> None:
        super().__init__(label_set=label_set, **kwargs)

    def how_to_get_data(self) -> str:
        return ('To get it: download the pre-processed NYUv2 (288×384) linked in lorenmt/mtan\'s README and '
                f'unzip it so that {self.data_root}/train/image/0.npy exists (docs/datasets.md).')


@DATASETS.register_module()
class CityscapesMTANDataset(MTANDataset):
    """Cityscapes in the MTAN release: 128×256 (or 256×512), 7 or 19 classes (−1 = ignore), **inverse depth**
    (disparity, 0 = invalid), 2975/500.

    ``depth_mode`` is ``'disparity'``, so ``RandomResizeDepth`` multiplies depth by the image scale (metric
    depth is divided). Labels come from ``label_7`` (or ``label``, LibMTL's name for the same files) or
    ``label_19``. The 7 classes are taken to be the Cityscapes categories without void (flat, construction,
    object, nature, sky, human, vehicle): the release does not document them (docs/datasets.md).
    Load samples with ``LoadNpyImage`` + ``LoadNpyAnnotations``.
    """
    LABEL_SETS = {
        7: dict(classes=CATEGORY_CLASSES, palette=CATEGORY_PALETTE, folders=('label_7', 'label')),
        19: dict(classes=CITYSCAPES_CLASSES, palette=CITYSCAPES_PALETTE, folders=('label_19', )),
    }
    DEPTH_MODE = 'disparity'
    RELEASE_SIZES = dict(train=2975, val=500)

    def __init__(self, label_set: int = 7, **kwargs) -> None:
        super().__init__(label_set=label_set, **kwargs)

    def how_to_get_data(self) -> str:
        return ('To get it: download the pre-processed Cityscapes (128×256 or 256×512) linked in '
                f'lorenmt/mtan\'s README and unzip it so that {self.data_root}/train/image/0.npy exists '
                '(docs/datasets.md).')

