"""BDD100K semantic segmentation (the 10K subset): 19 classes in Cityscapes train-ID order, 255 = ignore.

Two layouts under ``data_root`` (the ``bdd100k`` folder) are read:

* ``'sem_seg'`` (current release)::

      images/10k/{split}/{name}.jpg
      labels/sem_seg/masks/{split}/{name}.png        single-band, train IDs 0..18, 255 = unknown

* ``'legacy'`` (the older ``bdd100k_seg.zip``, which DAKD's ``bdd_source.py`` reads)::

      seg/images/{split}/{name}.jpg
      seg/labels/{split}/{name}_train_id.png

  or the same without the ``seg/`` level (``data_root`` pointing at ``seg``).
"""
import os.path as osp
from typing import List, Optional, Tuple

import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.datasets import BaseSegDataset

from jdbench.registry import DATASETS, TRANSFORMS
from .cityscapes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from .gta5 import IGNORE_INDEX, NUM_TRAIN_IDS, pair_files, read_label_png, report_missing

BDD_LAYOUTS = ('auto', 'sem_seg', 'legacy')
BDD_URL = 'https://bdd-data.berkeley.edu (see https://doc.bdd100k.com/download.html)'


def layout_prefixes(layout: str, split: str, seg_level: bool = True) -> Tuple[dict, str]:
    """``(data_prefix, seg_map_suffix)`` of ``layout`` (``'sem_seg'`` or ``'legacy'``) for ``split``;
    ``seg_level=False``: the legacy layout without its ``seg/`` folder."""
    if layout == 'sem_seg':
        return dict(img_path=f'images/10k/{split}', seg_map_path=f'labels/sem_seg/masks/{split}'), '.png'
    seg = 'seg/' if seg_level else ''
    return dict(img_path=f'{seg}images/{split}', seg_map_path=f'{seg}labels/{split}'), '_train_id.png'


@TRANSFORMS.register_module()
class LoadBDD100KAnnotations(BaseTransform):
    """Load a BDD100K mask (train IDs, 255 = ignore) as ``gt_seg_map`` (uint8), checking its values.

    Required keys: ``seg_map_path``. A value outside 0..18 and 255 is an error naming the file (a colour map
    or a label-ID file was given instead of the train-ID masks).

    Args:
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self, backend_args: Optional[dict] = None) -> None:
        self.backend_args = backend_args.copy() if backend_args else None

    def transform(self, results: dict) -> dict:
        """Add ``gt_seg_map`` to ``results``."""
        path = results['seg_map_path']
        raw = read_label_png(path, 'BDD100K label', self.backend_args)
        check_bdd_values(raw, path)
        ori_shape = results.get('ori_shape')
        if ori_shape is not None and tuple(raw.shape) != tuple(ori_shape[:2]):
            raise ValueError(f'BDD100K label file {path} is {raw.shape[0]}x{raw.shape[1]} but its image '
                             f'{results.get("img_path")} is {ori_shape[0]}x{ori_shape[1]}.')
        results['gt_seg_map'] = raw.astype(np.uint8)
        results.setdefault('seg_fields', []).append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(backend_args={self.backend_args})'


def check_bdd_values(raw: np.ndarray, path: str) -> None:
    """``ValueError`` naming ``path`` if ``raw`` holds a value other than 0..18 and 255."""
    present = np.flatnonzero(np.bincount(raw.ravel()))
    bad = [int(v) for v in present if NUM_TRAIN_IDS <= v != IGNORE_INDEX]
    if bad:
        raise ValueError(f'BDD100K label file {path} holds value(s) {bad[:10]} outside the train IDs 0..18 '
                         f'and {IGNORE_INDEX}: BDD100K semantic masks hold train IDs. Use '
                         'labels/sem_seg/masks/ (not colormaps/) or the legacy *_train_id.png files (not '
                         '*_train_color.png).')


@DATASETS.register_module()
class BDD100KDataset(BaseSegDataset):
    """BDD100K 10K semantic segmentation in either release layout (module doc), 19 Cityscapes classes.

    Every image of the split is paired with its mask; a pair with a missing file is skipped and counted in a
    warning (``missing_pairs``). Load samples with ``LoadImageFromFile`` + :class:`LoadBDD100KAnnotations`.
    Segmentation only: there is no depth.

    Args:
        split (str): ``'train'`` or ``'val'``. Defaults to ``'train'``.
        layout (str): ``'sem_seg'``, ``'legacy'`` or ``'auto'`` (the one found under ``data_root``; the
            chosen one is in ``self.layout``). Defaults to ``'auto'``.
        data_prefix (dict, optional): Overrides the layout's ``img_path``, ``seg_map_path``.
        **kwargs: :class:`mmseg.datasets.BaseSegDataset` arguments (``data_root``, ``pipeline``, ...).
    """
    METAINFO = dict(classes=CITYSCAPES_CLASSES, palette=CITYSCAPES_PALETTE)

    def __init__(self,
                 split: str = 'train',
                 layout: str = 'auto',
                 data_prefix: Optional[dict] = None,
                 img_suffix: str = '.jpg',
                 seg_map_suffix: Optional[str] = None,
                 **kwargs) -> None:
        if layout not in BDD_LAYOUTS:
            raise ValueError(f'layout must be one of {BDD_LAYOUTS}, got {layout!r}')
        self.split = split
        self.layout = layout
        self.missing_pairs: List[Tuple[str, List[str]]] = []
        data_root = kwargs.get('data_root')
        if layout == 'auto':
            self.layout, seg_level = self._detect_layout(data_root, split)
        else:
            seg_level = layout != 'legacy' or data_root is None or not self._is_dir(
                osp.join(data_root, f'labels/{split}'), kwargs.get('backend_args'))
        prefix, suffix = layout_prefixes(self.layout, split, seg_level)
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix or suffix,
                         data_prefix=data_prefix or prefix, **kwargs)
        self._metainfo.update(layout=self.layout)

    @staticmethod
    def _is_dir(path: str, backend_args: Optional[dict] = None) -> bool:
        return fileio.isdir(path, backend_args=backend_args)

    @classmethod
    def _detect_layout(cls, data_root: Optional[str], split: str) -> Tuple[str, bool]:
        """``(layout, seg_level)`` of the first layout whose label folder exists (``sem_seg`` if none)."""
        if data_root is not None:
            for layout, seg_level in (('sem_seg', True), ('legacy', True), ('legacy', False)):
                prefix, _ = layout_prefixes(layout, split, seg_level)
                if cls._is_dir(osp.join(data_root, prefix['seg_map_path'])):
                    return layout, seg_level
        return 'sem_seg', True

    def layout_message(self) -> str:
        """The expected file layouts, for error messages."""
        lines = ['Expected one of the BDD100K layouts under data_root:']
        for layout in ('sem_seg', 'legacy'):
            prefix, suffix = layout_prefixes(layout, self.split)
            lines.append(f'  {layout}: {prefix["img_path"]}/*{self.img_suffix} + '
                         f'{prefix["seg_map_path"]}/*{suffix}   (train IDs, 255 = ignore)')
        return '\n'.join(lines)

    def how_to_get_data(self) -> str:
        """How to obtain the data, for error messages."""
        return (f'To get BDD100K: download the 10K images and the semantic segmentation labels from '
                f'{BDD_URL} and extract both into {self.data_root} (images/10k/ and labels/sem_seg/).')

    def _missing(self, what: str) -> FileNotFoundError:
        return FileNotFoundError(f'{what}.\n{self.layout_message()}\n{self.how_to_get_data()}')

    def load_data_list(self) -> List[dict]:
        """Pair every image of the split with its mask; skip (and count) incomplete pairs."""
        name = f'{self.__class__.__name__} ({self.layout}, {self.split})'
        if self.data_root is not None and not fileio.isdir(self.data_root, backend_args=self.backend_args):
            raise self._missing(f'{name}: data root {self.data_root} does not exist')
        img_dir, seg_dir = self.data_prefix['img_path'], self.data_prefix['seg_map_path']
        for folder, what in ((img_dir, 'image'), (seg_dir, 'label')):
            if not fileio.isdir(folder, backend_args=self.backend_args):
                raise self._missing(f'{name}: {what} folder {folder} does not exist')
        stems = set()
        for folder, suffix in ((img_dir, self.img_suffix), (seg_dir, self.seg_map_suffix)):
            stems.update(f[:-len(suffix)] for f in fileio.list_dir_or_file(
                folder, list_dir=False, suffix=suffix, recursive=False, backend_args=self.backend_args))
        pairs, self.missing_pairs = pair_files(img_dir, seg_dir, sorted(stems), self.img_suffix,
                                               self.seg_map_suffix, self.backend_args)
        data_list = [dict(img_path=img, seg_map_path=seg, img_rel_path=stem + self.img_suffix, label_map=None,
                          reduce_zero_label=False, seg_fields=[]) for stem, img, seg in pairs]
        if self.missing_pairs:
            report_missing(name, self.missing_pairs, len(stems), self.data_root or img_dir)
        if not data_list:
            raise self._missing(f'{name}: no complete image/label pair in {img_dir} and {seg_dir}')
        check_bdd_values(read_label_png(data_list[0]['seg_map_path'], 'BDD100K label', self.backend_args),
                         data_list[0]['seg_map_path'])
        return data_list
