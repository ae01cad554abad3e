"""GTA5Dataset: the exact label-ID -> train-ID mapping, missing pairs, train-ID detection, bad input,
config."""
import logging
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger
from PIL import Image

from jdbench.datasets.gta5 import GTA5Dataset, LoadGTA5Annotations
from jdbench.datasets.synthdrive import generate_synthdrive
from jdbench.registry import DATASETS

REPO = osp.join(osp.dirname(__file__), '..', '..')
PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadGTA5Annotations')]
# Written out from cityscapesscripts' labels.py (name: id -> trainId), independently of the code under test.
CITYSCAPES_ID_TO_TRAINID = {
    'road': (7, 0), 'sidewalk': (8, 1), 'building': (11, 2), 'wall': (12, 3), 'fence': (13, 4),
    'pole': (17, 5), 'traffic light': (19, 6), 'traffic sign': (20, 7), 'vegetation': (21, 8),
    'terrain': (22, 9), 'sky': (23, 10), 'person': (24, 11), 'rider': (25, 12), 'car': (26, 13),
    'truck': (27, 14), 'bus': (28, 15), 'train': (31, 16), 'motorcycle': (32, 17), 'bicycle': (33, 18)}


class _Records(logging.Handler):

    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append((record.levelno, record.getMessage()))

    def warnings(self):
        return [m for level, m in self.records if level == logging.WARNING]


@pytest.fixture
def log():
    logger = MMLogger.get_instance(f'test_gta5_{os.getpid()}_{id(object())}')
    handler = _Records()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def write_label(path, values, palette=True):
    """A single-band PNG of ``values`` (uint8 HxW): palette mode as the GTA5 release, or grey."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    img = Image.fromarray(np.asarray(values, np.uint8))
    if palette:
        img.putpalette([(17 * v) % 256 for v in range(768)])   # any palette: colours must not be read
    img.save(path)


def write_pair(root, stem, label, image=True, palette=True):
    """``images/{stem}.png`` (random RGB; none if not ``image``) and ``labels/{stem}.png`` (``label``)."""
    h, w = np.asarray(label).shape
    if image:
        os.makedirs(osp.join(root, 'images'), exist_ok=True)
        img = np.random.default_rng(int(stem)).integers(0, 256, (h, w, 3), dtype=np.uint8)
        cv2.imwrite(osp.join(root, 'images', f'{stem}.png'), img)
    write_label(osp.join(root, 'labels', f'{stem}.png'), label, palette)


def names(ds):
    return [osp.basename(ds.get_data_info(i)['img_path']) for i in range(len(ds))]


def label_ids(*ids, shape=(4, 6)):
    """A label map cycling through ``ids``."""
    return np.resize(np.array(ids, np.uint8), shape)


@pytest.mark.parametrize('palette', [True, False])
def test_label_mapping_is_exact_on_a_crafted_file(tmp_path, palette):
    every_value = np.arange(256, dtype=np.uint8).reshape(16, 16)
    root = str(tmp_path)
    write_pair(root, '00001', every_value, palette=palette)
    assert np.array(Image.open(osp.join(root, 'labels', '00001.png'))).tolist() == every_value.tolist()
    if palette:   # OpenCV would return the palette colours: the loader must not use it
        assert cv2.imread(osp.join(root, 'labels', '00001.png'), cv2.IMREAD_UNCHANGED).ndim == 3
    ds = GTA5Dataset(data_root=root, pipeline=PIPELINE)
    seg = ds[0]['gt_seg_map']
    assert seg.dtype == np.uint8 and seg.shape == (16, 16)
    expected = np.full(256, 255)
    for label_id, train_id in CITYSCAPES_ID_TO_TRAINID.values():
        expected[label_id] = train_id
    assert seg.ravel().tolist() == expected.tolist()
    assert sorted(np.unique(seg).tolist()) == list(range(19)) + [255]
    assert ds.metainfo['classes'][13] == 'car' and len(ds.metainfo['classes']) == 19
    assert ds.train_id_suspects == []


def test_split_file_and_missing_pairs_are_skipped_with_a_count(tmp_path, log):
    root = str(tmp_path)
    for i in range(1, 7):
        write_pair(root, f'{i:05d}', label_ids(7, 26, 23), image=i != 2)
    os.remove(osp.join(root, 'labels', '00004.png'))
    ds = GTA5Dataset(data_root=root, pipeline=PIPELINE)
    assert names(ds) == ['00001.png', '00003.png', '00005.png',
                                                                    '00006.png']
    assert [(stem, [osp.relpath(p, root) for p in paths]) for stem, paths in ds.missing_pairs] == [
        ('00002', ['images/00002.png']), ('00004', ['labels/00004.png'])]
    warning, = log.warnings()
    assert 'skipped 2 of 6 image/label pairs' in warning and 'images/00002.png' in warning
    assert 'labels/00004.png' in warning

    with open(tmp_path / 'train.txt', 'w') as f:
        f.write('00001.png\n00002.png\n00003\n\n00007.png\n')       # names with or without suffix
    ds = GTA5Dataset(data_root=root, split_file='train.txt', pipeline=PIPELINE)
    assert names(ds) == ['00001.png', '00003.png']
    assert len(ds.missing_pairs) == 2 and ds.missing_pairs[1][0] == '00007'
    assert 'skipped 2 of 4 image/label pairs' in log.warnings()[-1]
    item = ds[1]
    assert item['gt_seg_map'].ravel()[:3].tolist() == [0, 13, 10]   # road, car, sky


def test_train_id_labels_are_detected(tmp_path, log):
    root = str(tmp_path)
    write_pair(root, '00001', label_ids(7, 8, 11, 21, 23, 26))         # label IDs: fine
    write_pair(root, '00002', label_ids(0, 1, 2, 8, 10, 13, 255))       # train IDs: road, ..., car, ignore
    ds = GTA5Dataset(data_root=root, pipeline=PIPELINE)
    suspect = osp.join(root, 'labels', '00002.png')
    assert ds.train_id_suspects == [suspect]
    warning, = log.warnings()
    assert suspect in warning and 'label_format="trainid"' in warning
    assert '[0, 1, 2, 8, 10, 13, 255]' in warning
    # read as label IDs, train ID 13 (car) would become fence (label ID 13 -> train ID 4), 2 -> ignore
    assert ds[1]['gt_seg_map'].ravel()[:7].tolist() == [255, 255, 255, 1, 255, 4, 255]
    assert len(log.warnings()) == 2 and suspect in log.warnings()[1]   # the pipeline's loader reports it too

    # each loading transform reports it once
    load = LoadGTA5Annotations()
    for _ in range(2):
        load(dict(seg_map_path=suspect, label_format='labelid'))
    assert len(log.warnings()) == 3 and suspect in log.warnings()[2]

    # as train IDs the file is read unchanged, and the label-ID file is refused with the fix
    for folder in ('images', 'labels'):
        os.remove(osp.join(root, folder, '00001.png'))
    ds = GTA5Dataset(data_root=root, label_format='trainid', pipeline=PIPELINE)
    assert ds[0]['gt_seg_map'].ravel()[:7].tolist() == [0, 1, 2, 8, 10, 13, 255]
    write_pair(root, '00001', label_ids(7, 8, 11, 21, 23, 26))
    with pytest.raises(ValueError, match=r'00001.png holds value\(s\) \[21, 23, 26\] outside the train IDs'
                                         r'[\s\S]*label_format="labelid"'):
        GTA5Dataset(data_root=root, label_format='trainid', pipeline=PIPELINE)
    assert len(log.warnings()) == 3     # under 'trainid' the train-ID file raised no warning


def test_bad_input_gets_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'data root .*no_gta5 does not exist[\s\S]*images/NNNNN.png'
                                                r'[\s\S]*from_games[\s\S]*--layout gta5'):
        GTA5Dataset(data_root=str(tmp_path / 'no_gta5'))
    root = str(tmp_path / 'gta5')
    write_pair(root, '00001', label_ids(7, 26))
    with pytest.raises(FileNotFoundError, match=r'split file .*val.txt does not exist'):
        GTA5Dataset(data_root=root, split_file='val.txt')
    os.remove(osp.join(root, 'labels', '00001.png'))
    with pytest.raises(FileNotFoundError, match=r'no complete image/label pair .*\(1 names, 1 incomplete\)'):
        GTA5Dataset(data_root=root)
    os.makedirs(osp.join(root, 'labels'), exist_ok=True)
    cv2.imwrite(osp.join(root, 'labels', '00001.png'), np.zeros((4, 6, 3), np.uint8))   # a colour map
    with pytest.raises(ValueError, match=r'00001.png has shape \(4, 6, 3\); expected a single-band'):
        GTA5Dataset(data_root=root)
    write_label(osp.join(root, 'labels', '00001.png'), label_ids(7, 26, shape=(5, 6)))
    ds = GTA5Dataset(data_root=root, pipeline=PIPELINE)
    with pytest.raises(ValueError, match=r'00001.png is 5x6 but its image .*00001.png is 4x6'):
        ds[0]
    with pytest.raises(ValueError, match='label_format must be one of'):
        GTA5Dataset(data_root=root, label_format='labelIds')


def test_gta5_to_cityscapes_config_builds_both_streams(tmp_path):
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'datasets', 'gta5_to_cityscapes.py'))
    assert cfg.source_root == 'data/gta5' and cfg.target_root == 'data/cityscapes'
    assert cfg.val_dataloader.dataset.split == 'val' and cfg.test_dataloader == cfg.val_dataloader
    assert cfg.source_val_dataloader.dataset.type == 'GTA5Dataset'
    gta, cityscapes = str(tmp_path / 'gta5'), str(tmp_path / 'cityscapes')
    for i in range(1, 4):
        write_pair(gta, f'{i:05d}', label_ids(7, 21, 26, 33, 0, shape=(36, 64)))
    generate_synthdrive(cityscapes, 2, 1, size=(32, 64), seed=0)
    streams = cfg.train_dataloader.dataset.streams
    streams.source.data_root, streams.target.data_root = gta, cityscapes
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(ds) == 3 and [len(s) for s in ds.streams.values()] == [3, 2]
    item = ds[2]
    src, tgt = item['source'], item['target']
    assert tuple(src['inputs'].shape) == (3, 720, 1280) and tuple(tgt['inputs'].shape) == (3, 512, 1024)
    assert set(np.unique(src['data_samples'].gt_sem_seg.data.numpy()).tolist()) == {0, 8, 13, 18, 255}
    assert 'gt_sem_seg' in tgt['data_samples'] and osp.basename(src['data_samples'].img_path) == '00003.png'
    val = DATASETS.build({**cfg.source_val_dataloader.dataset, 'data_root': gta})
    assert len(val) == 3 and val[0]['data_samples'].gt_sem_seg.data.shape[-2:] == (36, 64)
