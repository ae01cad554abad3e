"""CityscapesJointDataset / SynthDriveDataset on tiny crafted files in the real Cityscapes formats."""
import json
import logging
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger

from jdbench.datasets import CityscapesJointDataset, SynthDriveDataset
from jdbench.datasets.cityscapes import TRAINID_TO_CATEGORY, select_holdout
from jdbench.registry import DATASETS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
H, W = 4, 8
BASELINE, FX = 0.25, 1600.0  # baseline * fx = 400
CAMERA = {'extrinsic': {'baseline': BASELINE, 'pitch': 0.04, 'roll': 0.0, 'yaw': 0.0, 'x': 1.7, 'y': 0.0,
                        'z': 1.2},
          'intrinsic': {'fx': FX, 'fy': FX, 'u0': 4.0, 'v0': 2.0}}


def write_sample(root, split, city, name, label=None, disparity=None, camera=CAMERA, size=(H, W)):
    """Write one Cityscapes-format sample; ``None`` for ``camera`` leaves that file out."""
    h, w = size
    paths = {}
    for key, folder, suffix in (('img', 'leftImg8bit', '_leftImg8bit.png'),
                                ('label', 'gtFine', '_gtFine_labelTrainIds.png'),
                                ('disp', 'disparity', '_disparity.png'), ('cam', 'camera', '_camera.json')):
        os.makedirs(osp.join(root, folder, split, city), exist_ok=True)
        paths[key] = osp.join(root, folder, split, city, f'{city}_{name}{suffix}')
    rng = np.random.default_rng(len(name))
    cv2.imwrite(paths['img'], rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
    if label is None:
        label = (np.arange(h * w).reshape(h, w) % 19).astype(np.uint8)
    cv2.imwrite(paths['label'], label)
    cv2.imwrite(paths['disp'], np.full((h, w), 10 * 256 + 1, np.uint16) if disparity is None else disparity)
    if camera is not None:
        with open(paths['cam'], 'w') as f:
            json.dump(camera, f)
    return paths


def write_split(root, split, counts=(('bochum', 2), ('aachen', 3)), size=(H, W)):
    return [write_sample(root, split, city, f'{i:06d}_000019', size=size)
            for city, n in counts for i in range(n)]


PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadJointAnnotations')]


def test_scan_sorted_and_data_info(tmp_path):
    write_split(str(tmp_path), 'train')
    ds = CityscapesJointDataset(data_root=str(tmp_path), split='train', pipeline=PIPELINE)
    names = [osp.relpath(ds.get_data_info(i)['img_path'], tmp_path) for i in range(len(ds))]
    assert names == sorted(names) and len(ds) == 5
    assert names[0] == osp.join('leftImg8bit', 'train', 'aachen', 'aachen_000000_000019_leftImg8bit.png')
    info = ds.get_data_info(0)
    assert info['camera'] == dict(baseline=BASELINE, fx=FX, fy=FX, u0=4.0, v0=2.0)
    assert info['seg_map_path'].endswith(osp.join('gtFine', 'train', 'aachen',
                                                  'aachen_000000_000019_gtFine_labelTrainIds.png'))
    assert ds.metainfo['classes'][0] == 'road' and len(ds.metainfo['classes']) == 19
    assert len(ds.metainfo['palette']) == 19 and ds.metainfo['depth_mode'] == 'metric'


def test_disparity_to_metric_depth_and_inverse(tmp_path):
    p = np.array([[0, 1, 10 * 256 + 1, 4 * 256 + 1], [129, 2, 256 * 256 - 1, 100 * 256 + 1]], np.uint16)
    write_sample(str(tmp_path), 'val', 'lindau', '000000_000019', disparity=p, size=p.shape)
    ds = CityscapesJointDataset(data_root=str(tmp_path), split='val', pipeline=PIPELINE)
    out = ds[0]
    depth = out['gt_depth_map']
    assert depth.dtype == np.float32 and depth.shape == p.shape
    # baseline * fx = 400; disparity (p - 1) / 256 = [-, 0, 10, 4], [0.5, 1/256, 65534/256, 100]
    expected = np.array([[0, 0, 40, 100], [800, 102400, 400 * 256 / 65534, 4]], np.float32)
    np.testing.assert_array_equal(depth, expected)
    assert out['seg_fields'] == ['gt_seg_map', 'gt_depth_map']

    ds = CityscapesJointDataset(
        data_root=str(tmp_path), split='val', depth_mode='disparity', pipeline=PIPELINE)
    expected = np.array([[0, 0, 10, 4], [0.5, 1 / 256, 65534 / 256, 100]], np.float32)
    np.testing.assert_array_equal(ds[0]['gt_depth_map'], expected)
    assert ds.metainfo['depth_mode'] == 'disparity'


def test_labels_trainid_and_category(tmp_path):
    label = np.array([list(range(10)), list(range(10, 19)) + [255]], np.uint8)
    write_sample(str(tmp_path), 'val', 'lindau', '000000_000019', label=label, size=label.shape)
    ds = CityscapesJointDataset(data_root=str(tmp_path), split='val', pipeline=PIPELINE)
    seg = ds[0]['gt_seg_map']
    assert seg.dtype == np.uint8
    np.testing.assert_array_equal(seg, label)

    ds = CityscapesJointDataset(data_root=str(tmp_path), split='val', label_set='category', pipeline=PIPELINE)
    assert ds.metainfo['classes'] == ('flat', 'construction', 'object', 'nature', 'sky', 'human', 'vehicle')
    assert len(ds.metainfo['palette']) == 7
    expected = np.array([[0, 0, 1, 1, 1, 2, 2, 2, 3, 3], [4, 5, 5, 6, 6, 6, 6, 6, 6, 255]], np.uint8)
    np.testing.assert_array_equal(ds[0]['gt_seg_map'], expected)
    assert TRAINID_TO_CATEGORY == tuple(expected.ravel()[:19])


def test_metainfo_classes_must_match_label_set(tmp_path):
    write_split(str(tmp_path), 'train')
    with pytest.raises(ValueError, match='choose the classes with label_set'):
        CityscapesJointDataset(data_root=str(tmp_path), metainfo=dict(classes=('road', 'sky')))


def test_missing_root_message(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        CityscapesJointDataset(data_root=str(tmp_path / 'nope'))
    msg = str(e.value)
    for fragment in ('does not exist', 'leftImg8bit/train/{city}/*_leftImg8bit.png',
                     'gtFine/train/{city}/*_gtFine_labelTrainIds.png', 'disparity_trainvaltest.zip',
                     'camera_trainvaltest.zip', 'leftImg8bit_trainvaltest.zip', 'gtFine_trainvaltest.zip',
                     'createTrainIdLabelImgs', 'tools/dataset_converters/synthdrive.py'):
        assert fragment in msg
    write_split(str(tmp_path), 'train')
    with pytest.raises(FileNotFoundError,
                       match=r"image folder .*leftImg8bit/val \(split 'val'\) does not exist"):
        CityscapesJointDataset(data_root=str(tmp_path), split='val')


@pytest.mark.parametrize('key,fragment', [('label', 'have no label file'), ('disp', 'have no disparity file'),
                                          ('cam', 'have no camera file')])
def test_image_without_annotation(tmp_path, key, fragment):
    paths = write_split(str(tmp_path), 'train')
    os.remove(paths[1][key])
    with pytest.raises(FileNotFoundError) as e:
        CityscapesJointDataset(data_root=str(tmp_path))
    assert f'1 of 5 images in {tmp_path}/leftImg8bit/train {fragment}' in str(e.value)
    assert f'{paths[1]["img"]} -> expected {paths[1][key]}' in str(e.value)


def test_corrupt_files(tmp_path):
    paths = write_split(str(tmp_path), 'train', counts=(('aachen', 1), ))[0]
    ds = CityscapesJointDataset(data_root=str(tmp_path), pipeline=PIPELINE, serialize_data=False)
    for key, fragment in (('label', f'Cannot decode Label file {paths["label"]}'),
                          ('disp', f'Cannot decode Disparity file {paths["disp"]}')):
        good = open(paths[key], 'rb').read()
        with open(paths[key], 'wb') as f:
            f.write(b'not a png')
        with pytest.raises(ValueError, match='unreadable or corrupt') as e:
            ds[0]
        assert fragment in str(e.value)
        with open(paths[key], 'wb') as f:
            f.write(good)
    with open(paths['img'], 'wb') as f:
        f.write(b'not a png')
    with pytest.raises(AssertionError, match=f'failed to load image: {paths["img"]}'):  # mmcv's check
        ds[0]


def test_label_value_outside_class_set(tmp_path):
    label = np.zeros((H, W), np.uint8)
    label[0, 0], label[1, 1] = 33, 26  # label IDs, not train IDs
    paths = write_sample(str(tmp_path), 'train', 'aachen', '000000_000019', label=label)
    ds = CityscapesJointDataset(data_root=str(tmp_path), pipeline=PIPELINE)
    with pytest.raises(ValueError) as e:
        ds[0]
    msg = str(e.value)
    assert f'Label file {paths["label"]} contains value(s) [26, 33] outside the class set' in msg
    assert f'valid values are {list(range(19)) + [255]}' in msg


def test_wrong_disparity_format_and_shape(tmp_path):
    paths = write_sample(str(tmp_path), 'train', 'aachen', '000000_000019')
    ds = CityscapesJointDataset(data_root=str(tmp_path), pipeline=PIPELINE, serialize_data=False)
    cv2.imwrite(paths['disp'], np.ones((H, W), np.uint8))
    with pytest.raises(ValueError, match='expected a single-channel 16-bit PNG'):
        ds[0]
    cv2.imwrite(paths['disp'], np.ones((H, W + 1), np.uint16))
    with pytest.raises(ValueError, match=f'Disparity file {paths["disp"]} is 4x9 but its image'):
        ds[0]


def test_camera_json_missing_fields(tmp_path):
    cam = json.loads(json.dumps(CAMERA))
    del cam['extrinsic']['baseline'], cam['intrinsic']['fx']
    paths = write_sample(str(tmp_path), 'train', 'aachen', '000000_000019', camera=cam)
    with pytest.raises(ValueError) as e:
        CityscapesJointDataset(data_root=str(tmp_path))
    assert f'Camera file {paths["cam"]} lacks field(s) extrinsic.baseline, intrinsic.fx' in str(e.value)
    with open(paths['cam'], 'w') as f:
        f.write('{"extrinsic": ')
    with pytest.raises(ValueError, match='is not valid JSON'):
        CityscapesJointDataset(data_root=str(tmp_path))


def test_holdout_split(tmp_path):
    write_split(str(tmp_path), 'train', counts=(('aachen', 6), ('bochum', 4)))

    def names(**holdout):
        ds = CityscapesJointDataset(data_root=str(tmp_path), holdout=holdout or None)
        return [ds.get_data_info(i)['img_path'] for i in range(len(ds))]

    everything = names()
    train = names(fraction=0.2, min_count=3, seed=0, part='train')
    held = names(fraction=0.2, min_count=3, seed=0, part='holdout')
    assert len(everything) == 10 and len(held) == 3 and len(train) == 7  # max(min_count, ceil(0.2 * 10))
    assert not set(train) & set(held) and sorted(train + held) == everything
    assert held == names(fraction=0.2, min_count=3, seed=0, part='holdout')  # deterministic
    assert held != names(fraction=0.2, min_count=3, seed=1, part='holdout')
    assert len(names(fraction=0.25, min_count=0, part='holdout')) == 3  # ceil(2.5)
    assert len(select_holdout([str(i) for i in range(2000)], 0.05, 32)) == 100
    with pytest.raises(ValueError, match='leaves no images'):
        names(fraction=1.0, part='train')
    with pytest.raises(ValueError, match="part must be 'train' or 'holdout'"):
        names(part='val')


class _Records(logging.Handler):

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def log_records():
    logger = MMLogger.get_instance(f'test_synthdrive_{os.getpid()}_{id(object())}')
    handler = _Records()
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


def _fake_generator(calls, before_return=None):

    def generate_synthdrive(out_dir, num_train, num_val, size=(128, 256), seed=0, style='day', logger=None):
        calls.append(dict(out_dir=out_dir, num_train=num_train, num_val=num_val, size=size, seed=seed,
                          style=style, logger=logger))
        write_split(out_dir, 'train', counts=(('synth', num_train), ), size=size)
        write_split(out_dir, 'val', counts=(('synth', num_val), ), size=size)
        if before_return is not None:
            before_return()
        return dict(num_train=num_train, num_val=num_val)

    return generate_synthdrive


def test_synthdrive_renders_on_first_use(tmp_path, monkeypatch, log_records):
    import jdbench.datasets.synthdrive as synthdrive
    calls = []
    monkeypatch.setattr(synthdrive, 'generate_synthdrive', _fake_generator(calls), raising=False)
    root = str(tmp_path / 'data' / 'synthdrive')
    gen = dict(num_train=3, num_val=2, size=(6, 10), seed=5, style='dusk')
    ds = SynthDriveDataset(data_root=root, generate=gen, pipeline=PIPELINE)
    assert len(ds) == 3 and len(calls) == 1
    assert calls[0]['num_train'] == 3 and calls[0]['size'] == (6, 10) and calls[0]['style'] == 'dusk'
    assert osp.dirname(calls[0]['out_dir']) == osp.dirname(root) and calls[0]['out_dir'] != root
    assert calls[0]['logger'] is MMLogger.get_current_instance()
    assert any(m.startswith(f'SynthDrive data not found at {root}: rendering 3 train + 2 val images of 6x10')
               for m in log_records)
    assert ds[0]['gt_depth_map'].shape == (6, 10)
    assert sorted(os.listdir(tmp_path / 'data')) == ['synthdrive', 'synthdrive.lock']  # temp dir renamed

    val = SynthDriveDataset(data_root=root, split='val', generate=gen)
    assert len(val) == 2 and len(calls) == 1  # rendered once
    log_records.clear()
    SynthDriveDataset(data_root=root, split='val', generate={**gen, 'num_train': 7})
    assert any('were rendered with' in m and 'Delete' in m for m in log_records)


def test_synthdrive_other_process_finished_first(tmp_path, monkeypatch, log_records):
    import jdbench.datasets.synthdrive as synthdrive
    root = str(tmp_path / 'synthdrive')
    calls = []
    # Another process (one the lock did not stop) renames its result into place while we render.
    rival = _fake_generator([], before_return=None)
    monkeypatch.setattr(synthdrive, 'generate_synthdrive',
                        _fake_generator(calls, before_return=lambda: rival(root, 4, 1)), raising=False)
    ds = SynthDriveDataset(data_root=root, generate=dict(num_train=2, num_val=1, size=(H, W)))
    assert len(ds) == 4 and len(calls) == 1  # the rival's data
    assert any('finished rendering SynthDrive' in m for m in log_records)
    assert sorted(os.listdir(tmp_path)) == ['synthdrive', 'synthdrive.lock']  # our temp dir removed


def test_synthdrive_missing_root_without_generate(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match=r'does not exist[\s\S]*tools/dataset_converters/synthdrive.py'):
        SynthDriveDataset(data_root=str(tmp_path / 'synthdrive'))
    with pytest.raises(ValueError, match=r"generate needs \['num_val'\]"):
        SynthDriveDataset(data_root=str(tmp_path / 'synthdrive'), generate=dict(num_train=3))


@pytest.mark.parametrize('name', ['synthdrive', 'cityscapes'])
def test_base_config_builds(tmp_path, name):
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'datasets', f'{name}.py'))
    assert cfg.val_evaluator == dict(type='JointMetric') and cfg.test_evaluator == cfg.val_evaluator
    assert cfg.train_dataloader.sampler.type == 'InfiniteSampler'
    assert cfg.val_dataloader.sampler.type == 'DefaultSampler'
    if name == 'synthdrive':
        assert cfg.train_dataloader.batch_size == 8 and cfg.train_dataloader.dataset.generate == dict(
            num_train=2000, num_val=300, size=(128, 256), seed=0, style='day')
    write_split(str(tmp_path), 'train', counts=(('aachen', 2), ), size=(8, 16))
    write_split(str(tmp_path), 'val', counts=(('aachen', 1), ), size=(8, 16))
    for loader in ('train_dataloader', 'val_dataloader'):
        ds_cfg = cfg[loader].dataset
        ds_cfg.update(data_root=str(tmp_path))
        if name == 'synthdrive':
            ds_cfg.update(generate=None)
        out = DATASETS.build(ds_cfg)[0]
        sample = out['data_samples']
        assert out['inputs'].dtype == torch.uint8 and sample.gt_depth_map.data.dtype == torch.float32
        assert out['inputs'].shape[1:] == sample.img_shape
        assert sample.gt_sem_seg.shape == sample.gt_depth_map.shape
        if loader == 'train_dataloader':  # augmented together with the image
            assert sample.gt_sem_seg.shape == sample.img_shape
        else:  # test pipeline: image resized to img_scale, ground truth at the original size
            assert sample.img_shape == (cfg.img_scale[1], cfg.img_scale[0])
            assert sample.gt_sem_seg.shape == sample.ori_shape == (8, 16)
