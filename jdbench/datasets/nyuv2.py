"""NYU Depth v2, official labelled release: 40 or 13 classes and metric depth.

The release is one MATLAB file, ``nyu_depth_v2_labeled.mat`` (2.8 GB, MATLAB v7.3 = HDF5), and the split file
``splits.mat`` (MATLAB v5, from ankurhanda/nyuv2-meta-data). ``tools/dataset_converters/nyuv2.py`` reads them
lazily (one image at a time, with :class:`NYUv2LabeledFile`) and writes one PNG file per image and modality;
:class:`NYUv2Dataset` reads those files. Why the converted files are the dataset's only input (probe-set
hashing, visualisation and every tool that reads ``img_path``, plain files per dataloader worker): see
docs/datasets.md.
"""
import json
import os
import os.path as osp
import shutil
import tempfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import mmengine.fileio as fileio
import numpy as np
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset

from jdbench.registry import DATASETS
from .cityscapes import CityscapesJointDataset, apply_holdout  # noqa: F401  (apply_holdout: used here and by mtan.py)

# The 40 classes of Gupta et al. (CVPR 2013), in order: class k (1-based in the release, k - 1 here).
NYU40_CLASSES = (
    'wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table', 'door', 'window', 'bookshelf', 'picture',
    'counter', 'blinds', 'desk', 'shelves', 'curtain', 'dresser', 'pillow', 'mirror', 'floor mat', 'clothes',
    'ceiling', 'books', 'refridgerator', 'television', 'paper', 'towel', 'shower curtain', 'box',
    'whiteboard', 'person', 'night stand', 'toilet', 'sink', 'lamp', 'bathtub', 'bag', 'otherstructure',
    'otherfurniture', 'otherprop')
# The 13 classes of Couprie et al. (2013) / SceneNet, in the release's (alphabetical) order; the MTAN .npy
# release stores them as 0..12 (-1 = ignore).
NYU13_CLASSES = ('bed', 'books', 'ceiling', 'chair', 'floor', 'furniture', 'objects', 'picture', 'sofa',
                 'table', 'tv', 'wall', 'window')

# The published mappings of ankurhanda/nyuv2-meta-data: classMapping40.mat `mapClass` (1x894, 894-class id k
# -> 40-class id mapClass[k - 1], both 1-based) is read from the user's copy (it ships beside splits.mat and is not
# redistributed here); class13Mapping.mat `classMapping13.labels13` (1x40, 40-class id c -> 13-class id
# NYU40_TO_13[c - 1], both 1-based) is the table below.
NYU40_TO_13 = (12, 5, 6, 1, 4, 9, 10, 12, 13, 6, 8, 6, 13, 10, 6, 13, 6, 7, 7, 5, 7, 3, 2, 6, 11, 7, 7, 7, 7,
               7, 7, 6, 7, 7, 7, 7, 7, 7, 6, 7)
NUM_RAW_CLASSES = 894
LABEL_SETS: Dict[int, Tuple[str, ...]] = {40: NYU40_CLASSES, 13: NYU13_CLASSES}
DEPTH_SOURCES = ('depths', 'rawDepths')
# Official split sizes (splits.mat), for the log.
OFFICIAL_SPLIT_SIZES = dict(train=795, test=654)
# What tools/dataset_converters/nyuv2.py writes under the data root: MATLAB variable -> folder.
CONVERTED_FOLDERS = dict(images='images', labels='labels', depths='depths', rawDepths='raw_depths')
DEPTH_PNG_SCALE = 1000.0  # depth PNG value = round(depth in metres * 1000), i.e. millimetres; 0 = invalid
HDF5_SIGNATURE = b'\x89HDF\r\n\x1a\n'
RELEASE_URL = 'http://horatio.cs.nyu.edu/mit/silberman/nyu_depth_v2/nyu_depth_v2_labeled.mat'
SPLITS_URL = 'https://github.com/ankurhanda/nyuv2-meta-data (splits.mat)'
MAPPING_FILE = 'classMapping40.mat'
MAPPING_URL = 'https://github.com/ankurhanda/nyuv2-meta-data (classMapping40.mat)'


def nyu_label_lut(label_set: int, map40: Sequence[int]) -> np.ndarray:
    """Lookup table ``lut[k]`` (uint8, 895 entries): 894-class id ``k`` -> 0-based ``label_set`` index.

    ``map40`` is ``mapClass`` of ``classMapping40.mat`` (894 values, 1..40; :func:`read_class_mapping`).
    ``lut[0] = 255``: 0 is "unlabelled" in the release and becomes the ignore index.
    """
    if label_set not in LABEL_SETS:
        raise ValueError(f'label_set must be one of {tuple(LABEL_SETS)}, got {label_set!r}')
    to40 = np.asarray(map40, dtype=np.int64)
    idx = to40 if label_set == 40 else np.asarray(NYU40_TO_13, dtype=np.int64)[to40 - 1]
    return np.concatenate([[255], idx - 1]).astype(np.uint8)


# ------------------------------------------------------------------------------------------ MATLAB files
def mat_format(path: str) -> str:
    """``'hdf5'`` for a MATLAB v7.3 file (HDF5, usually behind a 512-byte header), ``'v5'`` for a v5 MAT file.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is neither (a v4 or truncated file, or not a MAT file at all).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} does not exist.')
    with open(path, 'rb') as f:
        head = f.read(2048 + len(HDF5_SIGNATURE))
    if any(head[o:o + len(HDF5_SIGNATURE)] == HDF5_SIGNATURE for o in (0, 512, 1024, 2048)):
        return 'hdf5'
    if head.startswith(b'MATLAB 5.0 MAT-file'):
        return 'v5'
    text = head[:116].split(b'\0')[0].decode('latin-1', 'replace').strip()
    if head.startswith(b'MATLAB 7.3 MAT-file'):
        raise ValueError(f'{path} has a MATLAB v7.3 header but no HDF5 data after it: the file is truncated '
                         'or corrupt; download it again.')
    raise ValueError(f'{path} is not a MATLAB v7.3 (HDF5) or v5 MAT file (it starts with {text[:60]!r}); '
                     'check that the download completed, or re-save it in MATLAB with save(..., "-v7.3").')


class MatFile:
    """The numeric arrays of a MATLAB file, in MATLAB's axis order.

    v7.3 files are HDF5 and read lazily with h5py (which sees every array with its axes reversed; :meth:`read`
    transposes them back). v5 files are read with scipy, one whole variable at a time (cached).

    Args:
        path (str): The ``.mat`` file.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.format = mat_format(path)
        self._h5 = None
        self._cache: Dict[str, np.ndarray] = {}
        if self.format == 'hdf5':
            try:
                import h5py
            except ImportError:
                raise ImportError(f'{path} is a MATLAB v7.3 (HDF5) file; reading it needs h5py '
                                  '(pip install h5py).') from None
            try:
                self._h5 = h5py.File(path, 'r')
            except OSError as e:
                raise ValueError(f'{path} is an HDF5 file h5py cannot open ({e}); it is truncated or '
                                 'corrupt: download it again.') from e
            self._shapes = {k: tuple(reversed(v.shape)) for k, v in self._h5.items()
                            if isinstance(v, h5py.Dataset)}
        else:
            try:
                import scipy.io
            except ImportError:
                raise ImportError(f'{path} is a MATLAB v5 MAT file (not v7.3/HDF5); reading it needs scipy '
                                  '(pip install scipy), or re-save it in MATLAB with save(..., "-v7.3").'
                                  ) from None
            try:
                self._shapes = {name: tuple(shape) for name, shape, _ in scipy.io.whosmat(path)}
            except Exception as e:  # noqa: BLE001  (scipy raises several types for damaged files)
                raise ValueError(f'{path}: scipy cannot read this MATLAB v5 file ({e}); it is truncated or '
                                 'corrupt: download it again.') from e

    def keys(self) -> Tuple[str, ...]:
        """Names of the numeric variables."""
        return tuple(self._shapes)

    def shape(self, name: str) -> Tuple[int, ...]:
        """Shape of variable ``name`` in MATLAB's axis order."""
        return self._shapes[name]

    def read(self, name: str, index: Optional[int] = None) -> np.ndarray:
        """Variable ``name`` (MATLAB axis order), or its slice ``index`` (0-based) along its last axis."""
        if self._h5 is not None:
            ds = self._h5[name]
            return np.ascontiguousarray(np.asarray(ds[()] if index is None else ds[index]).transpose())
        if name not in self._cache:
            import scipy.io
            self._cache[name] = scipy.io.loadmat(self.path, variable_names=[name])[name]
        arr = self._cache[name]
        return arr if index is None else np.ascontiguousarray(arr[..., index])

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None
        self._cache.clear()

    def __enter__(self) -> 'MatFile':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class NYUv2LabeledFile(MatFile):
    """``nyu_depth_v2_labeled.mat``, one image at a time (never loaded whole when it is v7.3).

    MATLAB layout (N = 1449, H×W = 480×640): ``images`` H×W×3×N uint8 RGB, ``labels`` H×W×N (894-class ids,
    0 = unlabelled), ``depths`` H×W×N in-painted depth in metres, ``rawDepths`` H×W×N raw Kinect depth in
    metres (0 = invalid). Indices are 0-based.
    """
    VARIABLES = ('images', 'labels', 'depths', 'rawDepths')

    def __init__(self, path: str) -> None:
        super().__init__(path)
        missing = [k for k in self.VARIABLES if k not in self.keys()]
        if missing:
            self.close()
            raise ValueError(f'{path} has no variable(s) {missing} (it has {list(self.keys())}): it is not '
                             'the NYUv2 labelled file. Download nyu_depth_v2_labeled.mat from '
                             f'{RELEASE_URL}.')
        img = self.shape('images')
        if len(img) != 4 or img[2] != 3:
            self.close()
            raise ValueError(f'{path}: images has shape {img} (MATLAB order); expected H×W×3×N.')
        h, w, _, n = img
        for key in self.VARIABLES[1:]:
            if self.shape(key) != (h, w, n):
                self.close()
                raise ValueError(f'{path}: {key} has shape {self.shape(key)} (MATLAB order) but images is '
                                 f'{img}; expected {(h, w, n)}. The file is damaged: download it again.')
        self.num_images, self.size = n, (h, w)

    def image(self, i: int) -> np.ndarray:
        """Image ``i`` as uint8 ``H×W×3`` RGB."""
        return self.read('images', i).astype(np.uint8, copy=False)

    def label(self, i: int) -> np.ndarray:
        """894-class ids of image ``i`` as uint16 ``H×W`` (0 = unlabelled)."""
        lab = self.read('labels', i)
        if lab.size and (lab.min() < 0 or lab.max() > NUM_RAW_CLASSES):
            raise ValueError(f'{self.path}: labels of image {i + 1} (1-based) hold values outside '
                             f'0..{NUM_RAW_CLASSES}; the file is not the NYUv2 labelled release.')
        return lab.astype(np.uint16)

    def depth(self, i: int, source: str = 'depths') -> np.ndarray:
        """Depth of image ``i`` in metres as float32 ``H×W`` (``source``: ``'depths'`` or ``'rawDepths'``)."""
        if source not in DEPTH_SOURCES:
            raise ValueError(f'depth source must be one of {DEPTH_SOURCES}, got {source!r}')
        return self.read(source, i).astype(np.float32)


def read_class_mapping(path: str) -> np.ndarray:
    """``mapClass`` of ``classMapping40.mat``: (894,) int64, the 40-class id (1..40) of each 894-class id."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} does not exist: download {MAPPING_FILE} ({MAPPING_URL}), the published '
                                '894 -> 40 class mapping, beside splits.mat (or give --mapping).')
    with MatFile(path) as mat:
        if 'mapClass' not in mat.keys():
            raise ValueError(f'{path} has no mapClass (it holds {list(mat.keys())}); it is not '
                             f'{MAPPING_FILE} of {MAPPING_URL}.')
        map40 = np.asarray(mat.read('mapClass')).astype(np.int64).reshape(-1)
    if map40.size != 894 or map40.min() < 1 or map40.max() > 40:
        raise ValueError(f'{path}: mapClass holds {map40.size} values in {map40.min()}..{map40.max()}; the '
                         f'published {MAPPING_FILE} maps 894 classes to 1..40. Download it again.')
    return map40


def load_splits(path: str, num_images: int, labeled_path: str = 'the labelled file') -> Dict[str, np.ndarray]:
    """``{'train': ..., 'test': ...}``: 0-based image indices from ``splits.mat`` (1-based ``trainNdxs``,
    ``testNdxs``; 795 and 654 in the official file), in the file's order.

    Raises:
        ValueError: a variable is missing, an index is not an integer in ``1..num_images``, an index repeats,
            or the two splits share an image.
    """
    out = {}
    with MatFile(path) as mat:
        for split, key in (('train', 'trainNdxs'), ('test', 'testNdxs')):
            if key not in mat.keys():
                raise ValueError(f'{path} has no {key!r} (it has {list(mat.keys())}): it is not the NYUv2 '
                                 f'splits.mat; get it from {SPLITS_URL}.')
            raw = np.asarray(mat.read(key), dtype=np.float64).ravel()
            if raw.size == 0 or not np.all(np.isfinite(raw)) or not np.all(raw == np.round(raw)):
                raise ValueError(f'{path}: {key} must be a non-empty list of integer image indices.')
            idx = raw.astype(np.int64)
            if idx.min() < 1:
                raise ValueError(f'{path}: {key} holds index {idx.min()}, but the indices are 1-based '
                                 f'(MATLAB); use the splits.mat from {SPLITS_URL}.')
            if idx.max() > num_images:
                raise ValueError(
                    f'{path}: {key} holds index {idx.max()} but {labeled_path} has only {num_images} images '
                    f'(indices 1..{num_images}): the split file and the labelled file do not belong '
                    'together. Use the full nyu_depth_v2_labeled.mat (1449 images) with the splits.mat from '
                    f'{SPLITS_URL}.')
            if len(np.unique(idx)) != len(idx):
                raise ValueError(f'{path}: {key} lists an image twice; the file is damaged.')
            out[split] = idx - 1
    shared = np.intersect1d(out['train'], out['test'])
    if shared.size:
        raise ValueError(f'{path}: {shared.size} image(s) are in both trainNdxs and testNdxs (e.g. '
                         f'{int(shared[0]) + 1}); the splits must be disjoint.')
    return out


check_holdout = CityscapesJointDataset._check_holdout


# --------------------------------------------------------------------------------------------- dataset
@DATASETS.register_module()
class NYUv2Dataset(BaseSegDataset):
    """NYU Depth v2 (official labelled release, 480×640) as written by ``tools/dataset_converters/nyuv2.py``.

    Layout under ``data_root`` (``NNNN`` = the image's 1-based index in the release, as in ``splits.mat``)::

        images/{split}/NNNN.png       8-bit colour
        labels/{split}/NNNN.png       16-bit, the 894-class ids (0 = unlabelled)
        depths/{split}/NNNN.png       16-bit, in-painted depth in mm
        raw_depths/{split}/NNNN.png   16-bit, raw Kinect depth in mm (0 = invalid)

    Load samples with ``LoadImageFromFile`` + ``LoadNYUv2Annotations``, which map the labels to ``label_set``
    (0 = unlabelled -> 255) and give ``gt_depth_map`` in metres (0 = invalid).

    Args:
        split (str): ``'train'`` (795 images) or ``'test'`` (654).
        label_set (int): 40 (Gupta et al.) or 13 (Couprie et al.; the classes of the MTAN release).
        depth_source (str): ``'depths'`` (in-painted, dense) or ``'rawDepths'`` (raw Kinect, 0 = invalid).
        holdout (dict, optional): Deterministic held-out subset, as in
            :class:`~jdbench.datasets.cityscapes.CityscapesJointDataset` (keys: file names).
        data_prefix (dict, optional): ``img_path``, ``seg_map_path``, ``depth_path``, relative to
            ``data_root``.
        **kwargs: :class:`mmseg.datasets.BaseSegDataset` arguments (``data_root``, ``pipeline``, ...).
    """
    METAINFO = dict(classes=NYU40_CLASSES)

    def __init__(self,
                 split: str = 'train',
                 label_set: int = 40,
                 depth_source: str = 'depths',
                 holdout: Optional[dict] = None,
                 data_prefix: Optional[dict] = None,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 depth_suffix: str = '.png',
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        if split not in OFFICIAL_SPLIT_SIZES:
            raise ValueError("NYUv2Dataset split must be 'train' or 'test' (splits.mat's trainNdxs / "
                             f'testNdxs), got {split!r}')
        if label_set not in LABEL_SETS:
            raise ValueError(f'label_set must be one of {tuple(LABEL_SETS)}, got {label_set!r}')
        if depth_source not in DEPTH_SOURCES:
            raise ValueError(f'depth_source must be one of {DEPTH_SOURCES}, got {depth_source!r}')
        self.split, self.label_set, self.depth_source = split, label_set, depth_source
        self.depth_suffix = depth_suffix
        self.holdout = check_holdout(holdout)
        if data_prefix is None:
            data_prefix = dict(img_path=f'images/{split}', seg_map_path=f'labels/{split}',
                               depth_path=f'{CONVERTED_FOLDERS[depth_source]}/{split}')
        metainfo = {'classes': LABEL_SETS[label_set], **(metainfo or {})}
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, data_prefix=data_prefix,
                         metainfo=metainfo, **kwargs)
        self._metainfo.update(label_set=label_set, depth_mode='metric', depth_source=depth_source)

    def get_label_map(self, new_classes: Optional[Sequence] = None) -> None:
        """None (``LoadNYUv2Annotations`` maps the 894 classes); checks the ``metainfo`` classes."""
        ref = LABEL_SETS[self.label_set]
        if new_classes is not None and tuple(new_classes) != ref:
            raise ValueError(f'metainfo classes {tuple(new_classes)} do not match the {self.label_set} '
                             f'classes of label_set={self.label_set} {ref}; choose the classes with '
                             'label_set (40 or 13).')
        return None

    def how_to_get_data(self) -> str:
        """How to obtain the data, for error messages."""
        root = self.data_root or '<data_root>'
        return (f'To get NYUv2: download nyu_depth_v2_labeled.mat ({RELEASE_URL}), splits.mat and '
                f'{MAPPING_FILE} ({SPLITS_URL}) into {root}, then run\n'
                f'  python tools/dataset_converters/nyuv2.py {osp.join(root, "nyu_depth_v2_labeled.mat")} '
                f'{osp.join(root, "splits.mat")} --out {root}\n'
                'which writes images/, labels/, depths/ and raw_depths/ (docs/datasets.md).')

    def _missing(self, what: str) -> FileNotFoundError:
        return FileNotFoundError(f'{self.__class__.__name__}: {what}.\n{self.how_to_get_data()}')

    def _class_mapping(self) -> List[int]:
        """The 894 -> 40 mapping the converter stored in ``{data_root}/nyuv2_convert.json``."""
        path = osp.join(self.data_root or '', CONVERT_RECORD)
        if not fileio.isfile(path, backend_args=self.backend_args):
            raise self._missing(f'{path} (written by the converter, with the class mapping) does not exist')
        record = json.loads(fileio.get_text(path, backend_args=self.backend_args))
        if 'map_894_to_40' not in record:
            raise self._missing(f'{path} holds no class mapping (map_894_to_40); convert the release again')
        return record['map_894_to_40']

    def load_data_list(self) -> List[dict]:
        """Scan the image folder and pair every image with its label and depth files."""
        img_dir = self.data_prefix['img_path']
        if not fileio.isdir(img_dir, backend_args=self.backend_args):
            raise self._missing(f'image folder {img_dir} (split {self.split!r}) does not exist')
        names = sorted(fileio.list_dir_or_file(img_dir, list_dir=False, suffix=self.img_suffix,
                                               backend_args=self.backend_args))
        if not names:
            raise self._missing(f'no *{self.img_suffix} images in {img_dir}')
        stems = [n[:-len(self.img_suffix)] for n in names]
        others = (('seg_map_path', self.seg_map_suffix, 'label'),
                  ('depth_path', self.depth_suffix, f'depth ({self.depth_source})'))
        for key, suffix, what in others:
            folder = self.data_prefix[key]
            missing = [s for s in stems
                       if not fileio.isfile(osp.join(folder, s + suffix), backend_args=self.backend_args)]
            if missing:
                raise self._missing(f'{len(missing)} of {len(names)} images in {img_dir} have no {what} file '
                                    f'in {folder} (e.g. {missing[0]}{suffix}); convert the release again')
        lut = nyu_label_lut(self.label_set, self._class_mapping())
        data_list = [
            dict(img_path=osp.join(img_dir, name), img_rel_path=name,
                 seg_map_path=osp.join(self.data_prefix['seg_map_path'], stem + self.seg_map_suffix),
                 depth_path=osp.join(self.data_prefix['depth_path'], stem + self.depth_suffix),
                 nyu_label_lut=lut, depth_mode='metric', depth_scale=DEPTH_PNG_SCALE,
                 reduce_zero_label=False, seg_fields=[]) for name, stem in zip(names, stems)
        ]
        official = OFFICIAL_SPLIT_SIZES[self.split]
        note = '' if len(data_list) == official else f' (the official split has {official})'
        print_log(f'{self.__class__.__name__} ({self.split}): {len(data_list)} images in {img_dir}{note}.',
                  logger='current')
        if self.holdout is not None:
            data_list = apply_holdout(data_list, self.holdout, img_dir,
                                      f'{self.__class__.__name__} ({self.split})')
        return data_list


# ------------------------------------------------------------------------------------------- conversion
CONVERT_RECORD = 'nyuv2_convert.json'


def depth_to_png(depth: np.ndarray, scale: float = DEPTH_PNG_SCALE) -> np.ndarray:
    """Depth in metres -> uint16 ``round(depth * scale)``; non-finite, non-positive values -> 0 (invalid)."""
    d = np.where(np.isfinite(depth) & (depth > 0), depth, 0.0).astype(np.float64) * scale
    if d.size and d.max() > np.iinfo(np.uint16).max:
        raise ValueError(f'depth {d.max() / scale:g} m does not fit a 16-bit PNG at {scale:g} units per '
                         'metre')
    return np.rint(d).astype(np.uint16)


def convert_nyuv2(labeled_path: str, splits_path: str, out: str, logger=None,
                  mapping_path: Optional[str] = None) -> Dict[str, int]:
    """Convert the labelled release into the per-image PNG layout :class:`NYUv2Dataset` reads.

    ``mapping_path`` is ``classMapping40.mat`` (default: beside ``splits_path``); its 894 -> 40 mapping is stored
    in the conversion record the dataset reads.

    Reads ``labeled_path`` one image at a time. Everything is written into a temporary folder inside ``out``
    and moved into place at the end; nothing is written when an input is bad or an output folder exists.

    Returns:
        dict: number of images written per split.
    """
    outputs = list(CONVERTED_FOLDERS.values()) + [CONVERT_RECORD]
    existing = [osp.join(out, name) for name in outputs if osp.exists(osp.join(out, name))]
    if existing:
        raise FileExistsError(f'{", ".join(existing)} already exist(s): remove them or choose another output '
                              'folder; nothing was written.')
    def log(msg: str) -> None:
        print_log(msg, logger=logger if logger is not None else 'current')
    start = time.perf_counter()
    mapping_path = mapping_path or osp.join(osp.dirname(osp.abspath(splits_path)), MAPPING_FILE)
    map40 = read_class_mapping(mapping_path)
    with NYUv2LabeledFile(labeled_path) as mat:
        splits = load_splits(splits_path, mat.num_images, labeled_path)
        log(f'{labeled_path}: {mat.num_images} images of {mat.size[0]}x{mat.size[1]} (MATLAB {mat.format}); '
            f'splits {", ".join(f"{k} {len(v)}" for k, v in splits.items())}.')
        os.makedirs(out, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix='.nyuv2-convert-', dir=out)
        try:
            done = 0
            for split, indices in splits.items():
                for folder in CONVERTED_FOLDERS.values():
                    os.makedirs(osp.join(tmp, folder, split))
                for i in indices:
                    name = f'{int(i) + 1:04d}.png'
                    arrays = dict(images=mat.image(i)[..., ::-1], labels=mat.label(i),
                                  **{key: depth_to_png(mat.depth(i, key)) for key in DEPTH_SOURCES})
                    for key, arr in arrays.items():
                        path = osp.join(tmp, CONVERTED_FOLDERS[key], split, name)
                        if not cv2.imwrite(path, np.ascontiguousarray(arr)):
                            raise OSError(f'cannot write {path}')
                    done += 1
                    if done % 100 == 0:
                        log(f'{done} / {sum(map(len, splits.values()))} images converted')
            record = dict(source=osp.basename(labeled_path), splits=osp.basename(splits_path),
                          sizes={k: len(v) for k, v in splits.items()}, depth_png_scale=DEPTH_PNG_SCALE,
                          labels='894-class ids, 0 = unlabelled', folders=CONVERTED_FOLDERS,
                          mapping=osp.basename(mapping_path), map_894_to_40=[int(v) for v in map40])
            with open(osp.join(tmp, CONVERT_RECORD), 'w') as f:
                json.dump(record, f, indent=1)
            for name in outputs:
                os.rename(osp.join(tmp, name), osp.join(out, name))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    log(f'NYUv2 written to {out} in {time.perf_counter() - start:.1f} s.')
    return {k: len(v) for k, v in splits.items()}
