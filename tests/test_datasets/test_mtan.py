"""The MTAN .npy releases of NYUv2 and Cityscapes, on tiny trees written in the release's format."""
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from jdbench.datasets import CityscapesMTANDataset, NYUv2MTANDataset
from jdbench.datasets.cityscapes import CATEGORY_CLASSES, CITYSCAPES_CLASSES
from jdbench.datasets.nyuv2 import NYU13_CLASSES
from jdbench.registry import DATASETS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
H, W = 6, 10
PIPELINE = [dict(type='LoadNpyImage'), dict(type='LoadNpyAnnotations')]


def sample_arrays(i, num_classes, size=(H, W), depth_range=(0.5, 9.0)):
    """Image, label, depth of sample ``i`` as the release stores them (float64 image in [0, 1])."""
    h, w = size
    rng = np.random.default_rng(i)
    img = rng.integers(0, 256, (h, w, 3)) / 255.0
    label = rng.integers(-1, num_classes, (h, w)).astype(np.float64)
    depth = rng.uniform(*depth_range, (h, w, 1))
    depth[0, 0] = 0.0  # invalid
    return dict(image=img, label=label, depth=depth)


def write_tree(root, split, n, num_classes, label_folder='label', size=(H, W), skip=(),
               depth_range=(0.5, 9.0)):
    for i in range(n):
        for key, arr in sample_arrays(i, num_classes, size, depth_range).items():
            if (key, i) in skip:
                continue
            folder = label_folder if key == 'label' else key
            os.makedirs(osp.join(root, split, folder), exist_ok=True)
            np.save(osp.join(root, split, folder, f'{i}.npy'), arr)


def test_nyuv2_mtan_split_sizes_and_samples(tmp_path):
    root = str(tmp_path)
    write_tree(root, 'train', 12, 13)
    write_tree(root, 'val', 5, 13)
    train = NYUv2MTANDataset(data_root=root, split='train', pipeline=PIPELINE)
    val = NYUv2MTANDataset(data_root=root, split='val', pipeline=PIPELINE)
    assert (len(train), len(val)) == (12, 5) and train.metainfo['classes'] == NYU13_CLASSES
    # numeric order, not 0, 1, 10, 11, 2, ...
    names = [osp.basename(train.get_data_info(k)['img_path']) for k in range(12)]
    assert names == [f'{i}.npy' for i in range(12)]
    out = train[10]
    ref = sample_arrays(10, 13)
    assert out['img'].dtype == np.uint8 and out['img'].shape == (H, W, 3)
    # RGB [0, 1] -> BGR uint8
    np.testing.assert_array_equal(out['img'], np.rint(ref['image'][..., ::-1] * 255))
    expected = ref['label'].astype(np.int64)
    expected[expected < 0] = 255
    np.testing.assert_array_equal(out['gt_seg_map'], expected)
    np.testing.assert_allclose(out['gt_depth_map'], ref['depth'][..., 0], rtol=1e-6)
    assert out['gt_depth_map'].dtype == np.float32 and out['depth_mode'] == 'metric'
    assert out['seg_fields'] == ['gt_seg_map', 'gt_depth_map']


@pytest.mark.parametrize('folder', ['label_7', 'label'])
def test_cityscapes_mtan_label_folders(tmp_path, folder):
    root = str(tmp_path)
    write_tree(root, 'train', 3, 7, label_folder=folder)
    ds = CityscapesMTANDataset(data_root=root, split='train', pipeline=PIPELINE)
    assert ds.metainfo['classes'] == CATEGORY_CLASSES and ds.metainfo['depth_mode'] == 'disparity'
    assert ds.get_data_info(0)['seg_map_path'] == osp.join(root, 'train', folder, '0.npy')
    assert ds[0]['depth_mode'] == 'disparity'


def test_cityscapes_mtan_19_classes(tmp_path):
    root = str(tmp_path)
    write_tree(root, 'train', 3, 19, label_folder='label_19')
    write_tree(root, 'train', 3, 7, label_folder='label_7')
    ds = CityscapesMTANDataset(data_root=root, split='train', label_set=19, pipeline=PIPELINE)
    assert ds.metainfo['classes'] == CITYSCAPES_CLASSES
    seg, ref = ds[2]['gt_seg_map'], sample_arrays(2, 19)['label']
    np.testing.assert_array_equal(seg, np.where(ref < 0, 255, ref))  # read from label_19, not label_7
    assert seg[seg != 255].max() > 6
    with pytest.raises(ValueError, match=r'label_set must be one of \(7, 19\)'):
        CityscapesMTANDataset(data_root=root, split='train', label_set=13, pipeline=PIPELINE)


def test_19_classes_where_7_are_configured(tmp_path):
    root = str(tmp_path)
    write_tree(root, 'train', 3, 19, label_folder='label_7')
    with pytest.raises(ValueError, match=r'label_7/0\.npy holds class index 1[0-8], .*configured for 7 '
                                         r'classes \(0\.\.6, −1 = ignore\).*Set label_set'):
        CityscapesMTANDataset(data_root=root, split='train', pipeline=PIPELINE)
    # a later file only: caught when the sample is loaded
    write_tree(root, 'train', 3, 7, label_folder='label_7')
    np.save(osp.join(root, 'train', 'label_7', '2.npy'), np.full((H, W), 18.0))
    ds = CityscapesMTANDataset(data_root=root, split='train', pipeline=PIPELINE)
    with pytest.raises(ValueError, match=r'label_7/2\.npy holds class index 18, .*configured for 7 classes'):
        ds[2]


def test_depth_of_the_wrong_shape(tmp_path):
    root = str(tmp_path)
    write_tree(root, 'train', 2, 13)
    np.save(osp.join(root, 'train', 'depth', '1.npy'), np.ones((H, W + 1, 1)))
    ds = NYUv2MTANDataset(data_root=root, split='train', pipeline=PIPELINE)
    ds[0]
    with pytest.raises(ValueError, match=r'depth/1\.npy has shape \(6, 11, 1\); expected 6×10 like its '
                                         r'image'):
        ds[1]


def test_missing_split_and_files(tmp_path):
    root = str(tmp_path)
    write_tree(root, 'train', 3, 13)
    with pytest.raises(FileNotFoundError,
                       match=r"(?s)split 'val': folder .*val does not exist.*lorenmt/mtan"):
        NYUv2MTANDataset(data_root=root, split='val', pipeline=PIPELINE)
    with pytest.raises(ValueError, match=r"split must be one of \('train', 'val'\)"):
        NYUv2MTANDataset(data_root=root, split='test', pipeline=PIPELINE)
    with pytest.raises(FileNotFoundError, match=r'data root .*nowhere does not exist'):
        NYUv2MTANDataset(data_root=osp.join(root, 'nowhere'), pipeline=PIPELINE)
    write_tree(root, 'val', 4, 13, skip={('depth', 2)})
    with pytest.raises(FileNotFoundError,
                       match=r'1 of 4 images .* have no file in .*val/depth \(e\.g\. 2\.npy\)'):
        NYUv2MTANDataset(data_root=root, split='val', pipeline=PIPELINE)
    os.remove(osp.join(root, 'val', 'image', '1.npy'))
    with pytest.raises(FileNotFoundError, match=r'holds 3 images but not 0\.\.2 \(1\.npy is missing\)'):
        NYUv2MTANDataset(data_root=root, split='val', pipeline=PIPELINE)
    city = osp.join(root, 'city')
    write_tree(city, 'train', 3, 7, label_folder='label_19')
    with pytest.raises(FileNotFoundError, match=r'no label folder label_7 or label in'):
        CityscapesMTANDataset(data_root=city, split='train', pipeline=PIPELINE)


def test_bad_image_values(tmp_path):
    root = str(tmp_path)
    write_tree(root, 'train', 1, 13)
    np.save(osp.join(root, 'train', 'image', '0.npy'), np.full((H, W, 3), 200.0))
    with pytest.raises(ValueError, match=r'image/0\.npy holds values in \[200, 200\]; .*\[0, 1\]'):
        NYUv2MTANDataset(data_root=root, split='train', pipeline=PIPELINE)[0]


@pytest.mark.parametrize('cls, folder, factor', [(NYUv2MTANDataset, 'label', 1 / 1.5),
                                                  (CityscapesMTANDataset, 'label_7', 1.5)])
def test_depth_and_image_stay_aligned_under_the_training_transforms(tmp_path, cls, folder, factor):
    """Image, label and depth encode the same 2×2 blocks; metric depth is divided by the scale, inverse depth
    multiplied."""
    h, w = 8, 12
    block = np.arange(h)[:, None] // 2 * 6 + np.arange(w)[None, :] // 2  # 24 blocks of 2×2
    root = str(tmp_path)
    for key, arr in dict(image=np.stack([block, block, block], -1) / 255.0, label=(block % 7).astype(float),
                         depth=(0.1 + 0.01 * block)[..., None]).items():
        os.makedirs(osp.join(root, 'train', folder if key == 'label' else key))
        np.save(osp.join(root, 'train', folder if key == 'label' else key, '0.npy'), arr)
    pipeline = PIPELINE + [
        dict(type='RandomResizeDepth', scale=(w, h), ratio_range=(1.5, 1.5), keep_ratio=True,
             interpolation='nearest'),
        dict(type='RandomCrop', crop_size=(h, w)),
        dict(type='RandomFlip', prob=1.0),
    ]
    out = cls(data_root=root, split='train', pipeline=pipeline)[0]
    code = out['img'][..., 0].astype(np.int64)
    assert out['img'].shape[:2] == (h, w) and out['depth_scale_factor'] == pytest.approx(factor)
    np.testing.assert_array_equal(out['gt_seg_map'], code % 7)
    np.testing.assert_allclose(out['gt_depth_map'], (0.1 + 0.01 * code) * factor, rtol=1e-5)


def test_holdout_partitions_the_training_split(tmp_path):
    root = str(tmp_path)
    write_tree(root, 'train', 40, 13)
    kw = dict(data_root=root, split='train', pipeline=PIPELINE)
    held = NYUv2MTANDataset(holdout=dict(part='holdout', min_count=4), **kw)
    kept = NYUv2MTANDataset(holdout=dict(part='train', min_count=4), **kw)
    names = lambda ds: {ds.get_data_info(k)['img_rel_path'] for k in range(len(ds))}  # noqa: E731
    assert len(held) == 4 and len(kept) == 36 and not names(held) & names(kept)
    assert names(held) | names(kept) == {f'{i}.npy' for i in range(40)}


@pytest.mark.parametrize('config, cls_folder, classes',
                         [('configs/_base_/datasets/nyuv2_mtan.py', 'label', 13),
                          ('configs/_base_/datasets/cityscapes_mtan.py', 'label_7', 7)])
def test_dataset_configs_load_samples(tmp_path, config, cls_folder, classes):
    cfg = Config.fromfile(osp.join(REPO, config))
    h, w = cfg.crop_size
    root = str(tmp_path)
    for split in ('train', 'val'):
        write_tree(root, split, 2, classes, label_folder=cls_folder, size=(h, w))
    train = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=root))
    assert tuple(train[0]['inputs'].shape) == (3, h, w)
    val = DATASETS.build(dict(cfg.val_dataloader.dataset, data_root=root))
    sample = val[1]['data_samples']
    assert tuple(sample.gt_depth_map.data.shape) == (1, h, w) and len(val.metainfo['classes']) == classes


def test_the_student_trains_and_evaluates_on_the_cityscapes_release(tmp_path):
    """Two iterations of mtl_cityscapes_mtan (data contract, class check hook, disparity metrics)."""
    from mmengine.runner import Runner

    from jdbench.testing import tiny_config
    root = str(tmp_path / 'data')
    for split, n in (('train', 4), ('val', 2)):  # inverse depth as in the release: values below 0.5
        write_tree(root, split, n, 7, label_folder='label_7', size=(32, 64), depth_range=(0.01, 0.49))
    cfg = tiny_config(osp.join(REPO, 'configs/baselines/mtl_cityscapes_mtan.py'), root, str(tmp_path / 'run'),
                      size=(32, 64), max_iters=2)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.val_loop.run()
    assert {'mIoU', 'abs_err', 'rel_err', 'd1'} <= set(metrics) and metrics['abs_err'] > 0
