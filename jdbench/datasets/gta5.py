"""GTA5 (Richter et al., ECCV 2016, "Playing for Data"): game images with labels in Cityscapes label IDs.

Layout under ``data_root`` (the release's 10 image and 10 label packages extracted side by side)::

    images/NNNNN.png    RGB, 5-digit names 00001.png ... 24966.png
    labels/NNNNN.png    single-band (palette) PNG whose values are Cityscapes *label IDs*

Labels are mapped to the 19 Cityscapes train IDs with :data:`GTA5_LABELID_TO_TRAINID` (everything else
-> 255), as AdaptSegNet and DAKD do. Segmentation only: there is no depth. The real release lacks some pairs
(e.g. 02154-02158), so missing pairs are skipped with a warning and a count.
"""
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset

from jdbench.registry import DATASETS, TRANSFORMS
from .cityscapes import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE
from .synthdrive_dataset import SynthDriveDataset

#: Cityscapes label ID -> train ID (cityscapesscripts' labels.py, AdaptSegNet's gta5_dataset.py); others: 255.
GTA5_LABELID_TO_TRAINID: Dict[int, int] = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12, 26: 13,
    27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
#: What the label PNGs hold: the release's label IDs, or train IDs (e.g. converted by DAFormer's gta.py).
LABEL_FORMATS = ('labelid', 'trainid')
IGNORE_INDEX = 255
NUM_TRAIN_IDS = 19
GTA5_URL = 'https://download.visinf.tu-darmstadt.de/data/from_games/'


def label_lut(label_format: str) -> np.ndarray:
    """Lookup table (65536 entries, uint8) from a raw label value to its train ID (255 = ignore)."""
    if label_format not in LABEL_FORMATS:
        raise ValueError(f'label_format must be one of {LABEL_FORMATS}, got {label_format!r}')
    lut = np.full(65536, IGNORE_INDEX, np.uint8)
    pairs = (GTA5_LABELID_TO_TRAINID.items() if label_format == 'labelid'
             else ((t, t) for t in range(NUM_TRAIN_IDS)))
    for raw, train_id in pairs:
        lut[raw] = train_id
    return lut


def looks_like_train_ids(raw: np.ndarray) -> bool:
    """Whether a label map holds train IDs only: every value is 0..18 or 255.

    A GTA5 label-ID map of a street scene nearly always holds a value above 18 (vegetation 21, sky 23,
    person 24, car 26, ...) and never 255, so a map without any is most likely a train-ID file.
    """
    present = np.flatnonzero(np.bincount(raw.ravel()))
    return bool(np.all((present < NUM_TRAIN_IDS) | (present == IGNORE_INDEX)))


def read_label_png(path: str, what: str = 'Label', backend_args: Optional[dict] = None) -> np.ndarray:
    """Read a single-band label PNG as stored (palette indices, not colours), with errors naming ``path``.

    Pillow is used because OpenCV expands palette PNGs (how GTA5 stores its labels) into BGR colours.
    """
    try:
        data = fileio.get(path, backend_args=backend_args)
    except FileNotFoundError:
        raise FileNotFoundError(f'{what} file {path} is missing.') from None
    try:
        arr = mmcv.imfrombytes(data, flag='unchanged', backend='pillow')
    except Exception as e:  # noqa: BLE001  (any decoder error is reported the same way)
        raise ValueError(f'Cannot decode {what} file {path} ({e}): it is unreadable or corrupt; '
                         're-extract or regenerate it.') from e
    if arr.ndim != 2:
        raise ValueError(f'{what} file {path} has shape {arr.shape}; expected a single-band (grey or '
                         'palette) PNG of class values, not a colour rendering of the labels.')
    return arr


def pair_files(img_dir: str, seg_dir: str, stems, img_suffix: str, seg_suffix: str,
               backend_args: Optional[dict] = None) -> Tuple[List[Tuple[str, str, str]], List[Tuple[str, List[str]]]]:
    """``(stem, image path, label path)`` for every stem whose two files exist, and ``(stem, [missing paths])``
    for the others (the real GTA5 and BDD100K releases lack some)."""
    pairs, missing = [], []
    for stem in stems:
        img, seg = osp.join(img_dir, stem + img_suffix), osp.join(seg_dir, stem + seg_suffix)
        absent = [p for p in (img, seg) if not fileio.isfile(p, backend_args=backend_args)]
        if absent:
            missing.append((stem, absent))
        else:
            pairs.append((stem, img, seg))
    return pairs, missing


def report_missing(name: str, missing: List[Tuple[str, List[str]]], total: int, where: str,
                   hint: str = 'Check the download (re-extract the packages) or the split file.') -> None:
    """Warn that ``len(missing)`` of ``total`` image/label pairs were skipped; ``missing`` holds
    ``(name, [missing paths])``; the first five are named, then ``hint``."""
    examples = '\n'.join(f'  {stem}: no {", ".join(paths)}' for stem, paths in missing[:5])
    more = f'\n  ... and {len(missing) - 5} more' if len(missing) > 5 else ''
    print_log(f'{name}: skipped {len(missing)} of {total} image/label pairs in {where} because a file is '
              f'missing:\n{examples}{more}\n{hint}', logger='current', level=logging.WARNING)


def train_id_warning(path: str, values: Sequence[int]) -> str:
    """The message for a label file that looks like train IDs while label IDs are expected."""
    return (f'GTA5 label file {path} holds only values {list(values)} (all <= 18 or 255), which looks like '
            'Cityscapes train IDs, but the dataset reads it as GTA5 label IDs (label_format="labelid"), '
            'which would map e.g. train ID 7 (traffic sign) to road and train ID 13 (car) to fence. If the '
            'labels were converted to train IDs (e.g. DAFormer\'s tools/convert_datasets/gta.py), set '
            'label_format="trainid"; otherwise point labels/ at the original GTA5 label PNGs.')


@TRANSFORMS.register_module()
class LoadGTA5Annotations(BaseTransform):
    """Load a GTA5 label PNG and map it to Cityscapes train IDs (``gt_seg_map``, uint8, 255 = ignore).

    Required keys: ``seg_map_path``; ``label_format`` (set by :class:`GTA5Dataset`, default ``'labelid'``).
    Added keys: ``gt_seg_map``; ``'gt_seg_map'`` is appended to ``seg_fields``. Label IDs outside
    :data:`GTA5_LABELID_TO_TRAINID` become 255. With ``label_format='labelid'`` a file that holds only values
    0..18 and 255 is reported as a likely train-ID file (once per loader instance, i.e. per worker); with
    ``'trainid'`` a value outside 0..18 and 255 is an error (the file holds label IDs).

    Args:
        check_format (bool): Run the checks above. Defaults to True.
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self, check_format: bool = True, backend_args: Optional[dict] = None) -> None:
        self.check_format = check_format
        self.backend_args = backend_args.copy() if backend_args else None
        self._luts: Dict[str, np.ndarray] = {}
        self._warned = False

    def transform(self, results: dict) -> dict:
        """Add ``gt_seg_map`` to ``results``."""
        path = results['seg_map_path']
        label_format = results.get('label_format', 'labelid')
        raw = read_label_png(path, 'GTA5 label', self.backend_args)
        ori_shape = results.get('ori_shape')
        if ori_shape is not None and tuple(raw.shape) != tuple(ori_shape[:2]):
            raise ValueError(f'GTA5 label file {path} is {raw.shape[0]}x{raw.shape[1]} but its image '
                             f'{results.get("img_path")} is {ori_shape[0]}x{ori_shape[1]}; re-extract the '
                             'pair or leave it out of the split file.')
        if self.check_format and check_label_format(raw, path, label_format, warn=not self._warned):
            self._warned = True          # one report per worker; the dataset names the files it checked
        if label_format not in self._luts:
            self._luts[label_format] = label_lut(label_format)
        results['gt_seg_map'] = self._luts[label_format][raw]
        results.setdefault('seg_fields', []).append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(check_format={self.check_format}, '
                f'backend_args={self.backend_args})')


def check_label_format(raw: np.ndarray, path: str, label_format: str, warn: bool = True) -> bool:
    """Check a raw label map against ``label_format``; returns whether it looks like train IDs.

    ``'labelid'`` and only values 0..18/255: a warning (if ``warn``) naming ``path`` and the fix.
    ``'trainid'`` and any other value: ``ValueError`` naming ``path`` and the fix.
    """
    suspect = looks_like_train_ids(raw)
    if label_format == 'labelid' and suspect and warn:
        values = np.flatnonzero(np.bincount(raw.ravel())).tolist()
        print_log(train_id_warning(path, values), logger='current', level=logging.WARNING)
    elif label_format == 'trainid' and not suspect:
        present = np.flatnonzero(np.bincount(raw.ravel()))
        bad = [int(v) for v in present if NUM_TRAIN_IDS <= v != IGNORE_INDEX]
        raise ValueError(f'GTA5 label file {path} holds value(s) {bad[:10]} outside the train IDs 0..18 and '
                         f'{IGNORE_INDEX}, but the dataset reads train IDs (label_format="trainid"): it '
                         'holds label IDs, as the GTA5 release does. Set label_format="labelid".')
    return suspect


@DATASETS.register_module()
class GTA5Dataset(BaseSegDataset):
    """GTA5 in its release layout, labels mapped from Cityscapes label IDs to the 19 train IDs.

    Pairs are the names in ``split_file`` (one per line, ``00001.png`` or ``00001``, as AdaptSegNet's
    ``gta5_list/train.txt``), or every name found in ``images/`` or ``labels/``. A pair whose image or label
    is missing is skipped; the skipped pairs are counted in a warning and kept in ``missing_pairs``. The
    first ``check_labels`` label files are read at construction: a file that looks like train IDs while
    ``label_format='labelid'`` gets a warning (:func:`check_label_format`). Load samples with
    ``LoadImageFromFile`` + :class:`LoadGTA5Annotations` (not mmseg's ``LoadAnnotations``, which would keep
    the label IDs).

    Args:
        split_file (str, optional): List of file names, relative to ``data_root`` unless absolute.
            None: all pairs.
        label_format (str): ``'labelid'`` (the release) or ``'trainid'`` (labels already converted).
        check_labels (int): How many label files to check at construction. Defaults to 3.
        data_prefix (dict, optional): ``img_path``, ``seg_map_path`` relative to ``data_root``.
            None: ``images``, ``labels``.
        img_suffix, seg_map_suffix (str): File name endings. Default ``'.png'``.
        **kwargs: :class:`mmseg.datasets.BaseSegDataset` arguments (``data_root``, ``pipeline``, ...).
    """
    METAINFO = dict(classes=CITYSCAPES_CLASSES, palette=CITYSCAPES_PALETTE)

    def __init__(self,
                 split_file: Optional[str] = None,
                 label_format: str = 'labelid',
                 check_labels: int = 3,
                 data_prefix: Optional[dict] = None,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        if label_format not in LABEL_FORMATS:
            raise ValueError(f'label_format must be one of {LABEL_FORMATS}, got {label_format!r}')
        self.split_file = split_file
        self.label_format = label_format
        self.check_labels = int(check_labels)
        self.missing_pairs: List[Tuple[str, List[str]]] = []
        self.train_id_suspects: List[str] = []
        if data_prefix is None:
            data_prefix = dict(img_path='images', seg_map_path='labels')
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, data_prefix=data_prefix,
                         **kwargs)
        self._metainfo.update(label_format=label_format)

    def layout_message(self) -> str:
        """The expected file layout, for error messages."""
        p = self.data_prefix
        return ('Expected layout:\n'
                f'  {p["img_path"]}/NNNNN{self.img_suffix}\n'
                f'  {p["seg_map_path"]}/NNNNN{self.seg_map_suffix}   (Cityscapes label IDs, single band)')

    def how_to_get_data(self) -> str:
        """How to obtain the data, for error messages."""
        return (f'To get GTA5: download the image and label packages (01_images.zip ... 10_images.zip, '
                f'01_labels.zip ... 10_labels.zip) from {GTA5_URL} and extract them into {self.data_root} '
                '(images/ and labels/). For synthetic data in this layout run `python '
                'tools/dataset_converters/synthdrive.py --layout gta5` (or use SynthDriveGTA5Dataset, which '
                'renders it).')

    def _missing(self, what: str) -> FileNotFoundError:
        return FileNotFoundError(f'{what}.\n{self.layout_message()}\n{self.how_to_get_data()}')

    def _names(self, img_dir: str, seg_dir: str) -> List[str]:
        """The stems to pair: from the split file, or every stem in either folder."""
        if self.split_file is None:
            stems = set()
            for folder, suffix in ((img_dir, self.img_suffix), (seg_dir, self.seg_map_suffix)):
                stems.update(f[:-len(suffix)] for f in fileio.list_dir_or_file(
                    folder, list_dir=False, suffix=suffix, recursive=False, backend_args=self.backend_args))
            return sorted(stems)
        path = self.split_file
        if self.data_root is not None and not osp.isabs(path):
            path = osp.join(self.data_root, path)
        if not fileio.isfile(path, backend_args=self.backend_args):
            raise self._missing(f'{self.__class__.__name__}: split file {path} does not exist; give a list '
                                'of file names (e.g. AdaptSegNet\'s dataset/gta5_list/train.txt) or '
                                'split_file=None for all images')
        stems = []
        for line in fileio.get_text(path, backend_args=self.backend_args).splitlines():
            name = osp.basename(line.strip())
            if name:
                stems.append(name[:-len(self.img_suffix)] if name.endswith(self.img_suffix) else name)
        if not stems:
            raise ValueError(f'{self.__class__.__name__}: split file {path} lists no file names.')
        return stems

    def load_data_list(self) -> List[dict]:
        """Pair images and labels, skip (and count) incomplete pairs, check the first label files."""
        name = self.__class__.__name__
        if self.data_root is not None and not fileio.isdir(self.data_root, backend_args=self.backend_args):
            raise self._missing(f'{name}: data root {self.data_root} does not exist')
        img_dir, seg_dir = self.data_prefix['img_path'], self.data_prefix['seg_map_path']
        for folder, what in ((img_dir, 'image'), (seg_dir, 'label')):
            if not fileio.isdir(folder, backend_args=self.backend_args):
                raise self._missing(f'{name}: {what} folder {folder} does not exist')
        stems = self._names(img_dir, seg_dir)
        pairs, self.missing_pairs = pair_files(img_dir, seg_dir, stems, self.img_suffix, self.seg_map_suffix,
                                               self.backend_args)
        data_list = [dict(img_path=img, seg_map_path=seg, img_rel_path=stem + self.img_suffix,
                          label_format=self.label_format, label_map=None, reduce_zero_label=False, seg_fields=[])
                     for stem, img, seg in pairs]
        if self.missing_pairs:
            report_missing(name, self.missing_pairs, len(stems), self.data_root or img_dir,
                           'The real GTA5 release lacks some pairs (e.g. 02154-02158), which is expected; '
                           'otherwise check the download (re-extract the packages) or the split file.')
        if not data_list:
            raise self._missing(f'{name}: no complete image/label pair in {img_dir} and {seg_dir} '
                                f'({len(stems)} names, {len(self.missing_pairs)} incomplete)')
        self.train_id_suspects = []
        for info in data_list[:max(0, self.check_labels)]:
            raw = read_label_png(info['seg_map_path'], 'GTA5 label', self.backend_args)
            if check_label_format(raw, info['seg_map_path'], self.label_format):
                self.train_id_suspects.append(info['seg_map_path'])
        return data_list


@DATASETS.register_module()
class SynthDriveGTA5Dataset(GTA5Dataset):
    """SynthDrive in the GTA5 layout (splits ``'train'``, ``'val'`` listed in ``{split}.txt``), rendered on
    first use like :class:`~jdbench.datasets.SynthDriveDataset` (same lock, atomic rename and generation
    record).

    Args:
        split (str): ``'train'`` or ``'val'``: reads ``{split}.txt``. Ignored if ``split_file`` is given.
        generate (dict, optional): ``num_train``, ``num_val`` (required), ``size`` (``(128, 256)``), ``seed``
            (0), ``style`` (``'day'``), ``city`` (``'A'``). None: a missing ``data_root`` is an error.
        **kwargs: :class:`GTA5Dataset` arguments.
    """
    GENERATE_DEFAULTS = dict(size=(128, 256), seed=0, style='day', city='A')

    def __init__(self, split: str = 'train', generate: Optional[dict] = None, **kwargs) -> None:
        self.split = split
        self.generate = self._check_generate(generate)
        kwargs.setdefault('split_file', f'{split}.txt')
        super().__init__(**kwargs)

    @classmethod
    def _check_generate(cls, generate: Optional[dict]) -> Optional[dict]:
        if generate is not None and generate.get('layout', 'gta5') != 'gta5':
            raise ValueError(f'SynthDriveGTA5Dataset renders the GTA5 layout; got generate={generate}. Use '
                             'SynthDriveDataset for the Cityscapes layout.')
        cfg = SynthDriveDataset.__dict__['_check_generate'].__func__(cls, generate)
        return None if cfg is None else {**cfg, 'layout': 'gta5'}

    # rendering on first use: SynthDriveDataset's, which passes ``generate`` on to generate_synthdrive
    _ensure_rendered = SynthDriveDataset._ensure_rendered

    def how_to_get_data(self) -> str:
        """How to obtain the data, for error messages."""
        return ('Render SynthDrive in the GTA5 layout with `python tools/dataset_converters/synthdrive.py '
                '--layout gta5` (see --help), or set generate=dict(num_train=..., num_val=..., size=(H, W), '
                'seed=0, style="day", city="A") in the dataset config to render it on first use.')

    def load_data_list(self) -> List[dict]:
        """Render the data if needed, then load it like :class:`GTA5Dataset`."""
        if self.generate is not None:
            if self.data_root is None:
                raise ValueError('SynthDriveGTA5Dataset with generate=... needs data_root (where to render).')
            self._ensure_rendered(osp.abspath(self.data_root))
        return super().load_data_list()
