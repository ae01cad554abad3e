"""BDD100KDataset: both release layouts, train IDs with 255 = ignore, missing pairs, bad input, config."""
import logging
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger
from PIL import Image

from jdbench.datasets.bdd100k import BDD100KDataset
from jdbench.datasets.synthdrive import generate_synthdrive
from jdbench.registry import DATASETS

REPO = osp.join(osp.dirname(__file__), '..', '..')
PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadBDD100KAnnotations')]
SHAPE = (6, 10)


class _Records(logging.Handler):

    def __init__(self):
        super().__init__()
        self.warnings = []

    def emit(self, record):
        if record.levelno == logging.WARNING:
            self.warnings.append(record.getMessage())


@pytest.fixture
def log():
    logger = MMLogger.get_instance(f'test_bdd100k_{os.getpid()}_{id(object())}')
    handler = _Records()
    logger.addHandler(handler)
    yield handler.warnings
    logger.removeHandler(handler)


def mask(seed):
    """A train-ID mask with every class and ignore somewhere."""
    values = np.array(list(range(19)) + [255], np.uint8)
    return np.random.default_rng(seed).permutation(np.resize(values, SHAPE[0] * SHAPE[1])).reshape(SHAPE)


def write(root, img_rel, seg_rel, seed, image=True, label=True):
    """An image (JPEG) and its mask (grey PNG); returns the mask."""
    seg = mask(seed)
    if image:
        os.makedirs(osp.dirname(osp.join(root, img_rel)), exist_ok=True)
        cv2.imwrite(osp.join(root, img_rel), np.full((*SHAPE, 3), 40 * seed % 256, np.uint8))
    if label:
        os.makedirs(osp.dirname(osp.join(root, seg_rel)), exist_ok=True)
        Image.fromarray(seg).save(osp.join(root, seg_rel))
    return seg


def sem_seg(root, split, name, seed, **kwargs):
    return write(root, f'images/10k/{split}/{name}.jpg', f'labels/sem_seg/masks/{split}/{name}.png', seed,
                 **kwargs)


def legacy(root, split, name, seed, **kwargs):
    return write(root, f'seg/images/{split}/{name}.jpg', f'seg/labels/{split}/{name}_train_id.png', seed,
                 **kwargs)


def labels(ds):
    return [ds[i]['gt_seg_map'] for i in range(len(ds))]


def test_sem_seg_layout(tmp_path, log):
    root = str(tmp_path)
    names = ['0a0a0b1a-7c39d841', '0a0b16e2-93f8c456']
    expected = [sem_seg(root, 'train', n, s) for s, n in enumerate(names)]
    sem_seg(root, 'train', 'ffff0000-00000000', 9, label=False)        # an image without its mask
    sem_seg(root, 'val', '7d2f7975-e0c1c5a7', 5)
    ds = BDD100KDataset(data_root=root, pipeline=PIPELINE)
    assert ds.layout == 'sem_seg' and ds.metainfo['layout'] == 'sem_seg' and len(ds) == 2
    info = ds.get_data_info(1)
    assert info['img_path'] == osp.join(root, 'images/10k/train/0a0b16e2-93f8c456.jpg')
    assert info['seg_map_path'] == osp.join(root, 'labels/sem_seg/masks/train/0a0b16e2-93f8c456.png')
    got = labels(ds)
    assert all(g.dtype == np.uint8 and np.array_equal(g, e) for g, e in zip(got, expected))
    assert ds.missing_pairs == [('ffff0000-00000000',
                                 [osp.join(root, 'labels/sem_seg/masks/train/ffff0000-00000000.png')])]
    assert 'skipped 1 of 3 image/label pairs' in log[0] and 'ffff0000-00000000' in log[0]
    assert len(BDD100KDataset(data_root=root, split='val', layout='sem_seg')) == 1
    assert ds.metainfo['classes'][18] == 'bicycle' and len(ds.metainfo['classes']) == 19


@pytest.mark.parametrize('seg_level', [True, False])
def test_legacy_layout(tmp_path, seg_level):
    root = str(tmp_path / 'bdd100k')
    expected = [legacy(root, 'val', n, s) for s, n in enumerate(['b1c66a42-6f7d68ca', 'b1c81faa-3df17267'])]
    data_root = root if seg_level else osp.join(root, 'seg')
    for layout in ('auto', 'legacy'):
        ds = BDD100KDataset(data_root=data_root, split='val', layout=layout, pipeline=PIPELINE)
        assert ds.layout == 'legacy' and len(ds) == 2
        seg_path = osp.join(root, 'seg/labels/val/b1c66a42-6f7d68ca_train_id.png')
        assert ds.get_data_info(0)['seg_map_path'] == seg_path
        assert all(np.array_equal(g, e) for g, e in zip(labels(ds), expected))


def test_auto_prefers_the_current_layout(tmp_path):
    root = str(tmp_path)
    current = sem_seg(root, 'train', 'a', 1)
    legacy(root, 'train', 'a', 2)
    ds = BDD100KDataset(data_root=root, pipeline=PIPELINE)
    assert ds.layout == 'sem_seg' and np.array_equal(labels(ds)[0], current)
    assert BDD100KDataset(data_root=root, layout='legacy').layout == 'legacy'


def test_bad_input_gets_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'data root .*nowhere does not exist[\s\S]*sem_seg: '
                                                r'images/10k/train/\*.jpg[\s\S]*legacy: seg/images/train'
                                                r'[\s\S]*bdd-data.berkeley.edu'):
        BDD100KDataset(data_root=str(tmp_path / 'nowhere'))
    root = str(tmp_path / 'bdd')
    sem_seg(root, 'train', 'a', 1)
    with pytest.raises(FileNotFoundError, match=r'image folder .*images/10k/val does not exist'):
        BDD100KDataset(data_root=root, split='val', layout='sem_seg')
    with pytest.raises(ValueError, match='layout must be one of'):
        BDD100KDataset(data_root=root, layout='10k')
    # a colour map instead of the masks, then a mask with label IDs (26 = car) instead of train IDs
    path = osp.join(root, 'labels/sem_seg/masks/train/a.png')
    cv2.imwrite(path, np.zeros((*SHAPE, 3), np.uint8))
    with pytest.raises(ValueError, match=r'a.png has shape \(6, 10, 3\); expected a single-band'):
        BDD100KDataset(data_root=root)
    Image.fromarray(np.resize(np.array([7, 26, 255], np.uint8), SHAPE)).save(path)
    with pytest.raises(ValueError, match=r'a.png holds value\(s\) \[26\] outside the train IDs 0..18 and 255'
                                         r'[\s\S]*not colormaps/'):
        BDD100KDataset(data_root=root)
    # the loader checks every file, not only the first one checked at construction
    sem_seg(root, 'train', 'a', 1)
    sem_seg(root, 'train', 'b', 2)
    Image.fromarray(np.full(SHAPE, 30, np.uint8)).save(osp.join(root, 'labels/sem_seg/masks/train/b.png'))
    ds = BDD100KDataset(data_root=root, pipeline=PIPELINE)
    with pytest.raises(ValueError, match=r'b.png holds value\(s\) \[30\]'):
        ds[1]


def test_bdd_to_cityscapes_config_builds_both_streams(tmp_path):
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'datasets', 'bdd_to_cityscapes.py'))
    assert cfg.source_root == 'data/bdd100k' and cfg.target_root == 'data/cityscapes'
    bdd, cityscapes = str(tmp_path / 'bdd100k'), str(tmp_path / 'cityscapes')
    expected = [legacy(bdd, 'train', n, s) for s, n in enumerate('abc')]
    legacy(bdd, 'val', 'v', 7)
    generate_synthdrive(cityscapes, 2, 1, size=(32, 64), seed=0)
    streams = cfg.train_dataloader.dataset.streams
    streams.source.data_root, streams.target.data_root = bdd, cityscapes
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(ds) == 3 and ds.streams['source'].layout == 'legacy'
    item = ds[1]
    assert tuple(item['source']['inputs'].shape) == (3, 720, 1280)
    assert tuple(item['target']['inputs'].shape) == (3, 512, 1024)
    seg = item['source']['data_samples'].gt_sem_seg.data.numpy()[0]
    assert np.array_equal(seg, cv2.resize(expected[1], (1280, 720), interpolation=cv2.INTER_NEAREST))
    val = DATASETS.build({**cfg.source_val_dataloader.dataset, 'data_root': bdd})
    assert len(val) == 1 and val.split == 'val'
