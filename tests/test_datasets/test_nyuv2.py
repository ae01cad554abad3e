"""NYUv2 official release: a crafted MATLAB v7.3 labelled file and a v5 splits.mat, converted and loaded."""
import hashlib
import os
import os.path as osp
import runpy
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from jdbench.datasets import NYUv2Dataset
from jdbench.datasets.nyuv2 import (NYU13_CLASSES, NYU40_CLASSES, MatFile, NYUv2LabeledFile, convert_nyuv2,
                                    load_splits, mat_format, nyu_label_lut, read_class_mapping)
from jdbench.registry import DATASETS

h5py = pytest.importorskip('h5py')
scipy_io = pytest.importorskip('scipy.io')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
H, W, N = 6, 8, 7  # H != W so a missed transpose changes shapes
TRAIN, TEST = [3, 4, 5, 7], [1, 2, 6]  # 1-based, as in splits.mat

# (894-class id, its 40-class name, its 13-class name) as classMapping40.mat / class13Mapping.mat map them
KNOWN = [(21, 'wall', 'wall'), (11, 'floor', 'floor'), (4, 'ceiling', 'ceiling'), (157, 'bed', 'bed'),
         (172, 'television', 'tv'), (85, 'books', 'books'), (1, 'otherprop', 'objects'),
         (5, 'chair', 'chair')]


def crafted_mapping():
    """A stand-in for classMapping40.mat's mapClass (which is not redistributed): the KNOWN ids map as the
    published table does, every other id by a fixed rule that reaches all 40 classes."""
    map40 = np.arange(894) % 40 + 1
    for k, name40, _ in KNOWN:
        map40[k - 1] = NYU40_CLASSES.index(name40) + 1
    return map40


def write_mapping(folder):
    """classMapping40.mat as the release ships it: a MATLAB v5 file with mapClass 1x894 uint8."""
    map40 = crafted_mapping()
    scipy_io.savemat(osp.join(str(folder), 'classMapping40.mat'),
                     dict(mapClass=map40.astype(np.uint8)[None], className=np.array(NYU40_CLASSES, object)[None]),
                     format='5')
    return map40


def matlab_header(version: bytes) -> bytes:
    """The 128-byte MATLAB header: 116 bytes of text, 8 bytes subsystem offset, version, endian indicator."""
    text = (b'MATLAB ' + version + b' MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 '
            b'HDF5 schema')
    return text.ljust(116, b' ') + b'\0' * 8 + b'\x00\x02' + b'IM'


MATLAB_CLASS = {np.uint8: 'uint8', np.uint16: 'uint16', np.float32: 'single', np.float64: 'double'}


def write_v73(path, arrays):
    """Write MATLAB-order arrays as MATLAB v7.3 does: HDF5 behind a 512-byte user block, axes reversed."""
    with h5py.File(path, 'w', userblock_size=512) as f:
        for name, arr in arrays.items():
            data = np.ascontiguousarray(np.asarray(arr).transpose())
            # chunked and compressed like MATLAB's own v7.3 writer
            ds = f.create_dataset(name, data=data, compression='gzip', chunks=(1, ) + data.shape[1:])
            ds.attrs['MATLAB_class'] = np.bytes_(MATLAB_CLASS[np.asarray(arr).dtype.type])
    with open(path, 'r+b') as f:
        f.write(matlab_header(b'7.3'))


def release_arrays(n=N, h=H, w=W):
    """MATLAB-order arrays of a tiny labelled release whose pixels say which image and position they are."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (h, w, 3, n), dtype=np.uint8)
    labels = rng.integers(0, 895, (h, w, n)).astype(np.uint16)
    labels[0, :len(KNOWN), :] = np.array([k for k, _, _ in KNOWN], np.uint16)[:, None]
    labels[1, 0, :] = 0  # unlabelled
    depths = (rng.uniform(0.5, 9.5, (h, w, n))).astype(np.float32)
    raw = depths.copy()
    raw[2, :3, :] = 0  # invalid raw Kinect pixels
    return dict(images=images, labels=labels, depths=depths, rawDepths=raw)


@pytest.fixture
def release(tmp_path):
    arrays = release_arrays()
    labeled, splits = str(tmp_path / 'nyu_depth_v2_labeled.mat'), str(tmp_path / 'splits.mat')
    write_v73(labeled, arrays)
    # splits.mat of the release is a MATLAB v5 file with uint16 795x1 / 654x1 columns
    scipy_io.savemat(splits, dict(trainNdxs=np.array(TRAIN, np.uint16)[:, None],
                                  testNdxs=np.array(TEST, np.uint16)[:, None]), format='5')
    map40 = write_mapping(tmp_path)
    return dict(labeled=labeled, splits=splits, arrays=arrays, root=str(tmp_path), map40=map40)


PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadNYUv2Annotations')]


def test_mapping_is_read_from_the_release_file(release, tmp_path):
    map40 = read_class_mapping(osp.join(release['root'], 'classMapping40.mat'))
    assert map40.tolist() == release['map40'].tolist()
    lut40, lut13 = nyu_label_lut(40, map40), nyu_label_lut(13, map40)
    assert lut40[0] == 255 and lut13[0] == 255 and lut40.dtype == np.uint8 and len(lut40) == 895
    for raw, name40, name13 in KNOWN:  # 40 -> 13 is the published labels13 table
        assert NYU40_CLASSES[lut40[raw]] == name40 and NYU13_CLASSES[lut13[raw]] == name13
    assert set(lut13[1:]) == set(range(13)) and set(lut40[1:]) == set(range(40))
    with pytest.raises(FileNotFoundError, match='download classMapping40.mat'):
        read_class_mapping(str(tmp_path / 'none.mat'))
    scipy_io.savemat(str(tmp_path / 'short.mat'), dict(mapClass=np.ones((1, 40), np.uint8)), format='5')
    with pytest.raises(ValueError, match='holds 40 values'):
        read_class_mapping(str(tmp_path / 'short.mat'))


def test_mat_format_and_axes(release, tmp_path):
    assert mat_format(release['labeled']) == 'hdf5' and mat_format(release['splits']) == 'v5'
    with open(release['labeled'], 'rb') as f:
        assert f.read(19) == b'MATLAB 7.3 MAT-file'
    a = release['arrays']
    with NYUv2LabeledFile(release['labeled']) as mat:
        assert mat.num_images == N and mat.size == (H, W)
        for i in (0, 4):
            np.testing.assert_array_equal(mat.image(i), a['images'][..., i])
            np.testing.assert_array_equal(mat.label(i), a['labels'][..., i])
            np.testing.assert_array_equal(mat.depth(i), a['depths'][..., i])
            np.testing.assert_array_equal(mat.depth(i, 'rawDepths'), a['rawDepths'][..., i])
    splits = load_splits(release['splits'], N)
    assert splits['train'].tolist() == [i - 1 for i in TRAIN]
    assert splits['test'].tolist() == [i - 1 for i in TEST]


def test_v5_labeled_file_is_read_with_scipy(tmp_path, monkeypatch):
    a = release_arrays(n=3)
    path = str(tmp_path / 'v5.mat')
    scipy_io.savemat(path, a, format='5')
    with NYUv2LabeledFile(path) as mat:
        assert mat.format == 'v5' and mat.num_images == 3
        np.testing.assert_array_equal(mat.image(2), a['images'][..., 2])
        np.testing.assert_array_equal(mat.depth(1, 'rawDepths'), a['rawDepths'][..., 1])
    monkeypatch.setitem(sys.modules, 'scipy', None)
    monkeypatch.setitem(sys.modules, 'scipy.io', None)
    with pytest.raises(ImportError, match=r'v5\.mat is a MATLAB v5 MAT file .*needs scipy'):
        MatFile(path)


def test_not_a_mat_file(tmp_path):
    junk = tmp_path / 'nyu_depth_v2_labeled.mat'
    junk.write_bytes(b'<html>404 Not Found</html>' + b'\0' * 600)
    with pytest.raises(ValueError, match=r'nyu_depth_v2_labeled\.mat is not a MATLAB v7\.3 \(HDF5\) or v5'):
        NYUv2LabeledFile(str(junk))
    truncated = tmp_path / 'truncated.mat'
    truncated.write_bytes(matlab_header(b'7.3') + b'\0' * 100)
    with pytest.raises(ValueError, match='truncated or corrupt'):
        mat_format(str(truncated))
    other = tmp_path / 'other.mat'
    write_v73(str(other), dict(images=np.zeros((H, W, 3, 2), np.uint8)))
    with pytest.raises(ValueError, match=r"other\.mat has no variable\(s\) \['labels', 'depths', "
                                         r"'rawDepths'\]"):
        NYUv2LabeledFile(str(other))


@pytest.mark.parametrize('train, test, match', [
    ([3, 4, 1500], [1], r'trainNdxs holds index 1500 but .*has only 7 images'),
    ([0, 3], [1], r'trainNdxs holds index 0, but the indices are 1-based'),
    ([3, 4], [4, 1], r'image\(s\) are in both trainNdxs and testNdxs'),
])
def test_bad_splits(release, tmp_path, train, test, match):
    bad = str(tmp_path / 'bad_splits.mat')
    scipy_io.savemat(bad, dict(trainNdxs=np.array(train, np.uint16)[:, None],
                               testNdxs=np.array(test, np.uint16)[:, None]), format='5')
    with pytest.raises(ValueError, match=r'bad_splits\.mat: .*' + match):
        load_splits(bad, N, release['labeled'])
    out = str(tmp_path / 'out')
    with pytest.raises(ValueError, match=match):
        convert_nyuv2(release['labeled'], bad, out)
    assert not osp.exists(osp.join(out, 'images'))  # nothing written


def test_splits_in_hdf5_too(tmp_path):
    path = str(tmp_path / 'splits73.mat')
    write_v73(path, dict(trainNdxs=np.array(TRAIN, np.float64)[:, None],
                         testNdxs=np.array(TEST, np.float64)[:, None]))
    assert load_splits(path, N)['test'].tolist() == [0, 1, 5]


def test_convert_then_load(release):
    root = release['root']
    assert convert_nyuv2(release['labeled'], release['splits'], root) == dict(train=4, test=3)
    assert not [n for n in os.listdir(root) if n.startswith('.nyuv2-convert-')]  # temporary folder removed
    a = release['arrays']
    for label_set, classes in ((40, NYU40_CLASSES), (13, NYU13_CLASSES)):
        sizes = {}
        for split, ids in (('train', TRAIN), ('test', TEST)):
            ds = NYUv2Dataset(data_root=root, split=split, label_set=label_set, pipeline=PIPELINE)
            sizes[split] = len(ds)
            assert [osp.basename(ds.get_data_info(k)['img_path']) for k in range(len(ds))] == \
                [f'{i:04d}.png' for i in ids]
            assert ds.metainfo['classes'] == classes
        assert sizes == dict(train=len(TRAIN), test=len(TEST))
        ds = NYUv2Dataset(data_root=root, split='train', label_set=label_set, pipeline=PIPELINE)
        out = ds[1]  # release image 4 (1-based)
        i = TRAIN[1] - 1
        np.testing.assert_array_equal(out['img'], a['images'][..., i][..., ::-1])  # BGR
        seg = out['gt_seg_map']
        assert seg.dtype == np.uint8 and seg.shape == (H, W)
        names = [classes[v] for v in seg[0, :len(KNOWN)]]
        assert names == [k[1 if label_set == 40 else 2] for k in KNOWN]
        assert (seg[1, 0] == 255).all()  # unlabelled -> ignore
        np.testing.assert_array_equal(seg, nyu_label_lut(label_set, release['map40'])[a['labels'][..., i]])
        np.testing.assert_allclose(out['gt_depth_map'], a['depths'][..., i], atol=5e-4)  # mm PNG
        assert out['gt_depth_map'].dtype == np.float32 and out['depth_mode'] == 'metric'
    raw = NYUv2Dataset(data_root=root, split='train', depth_source='rawDepths', pipeline=PIPELINE)[1]
    assert (raw['gt_depth_map'][2, :3] == 0).all() and (raw['gt_depth_map'][2, 3:] > 0).all()
    with pytest.raises(FileExistsError, match='already exist'):
        convert_nyuv2(release['labeled'], release['splits'], root)


def test_depth_and_image_stay_aligned_under_the_training_transforms(tmp_path):
    """The image, the label and the depth encode the same 2×2 blocks; scale 1.5, crop and flip keep them."""
    h, w = 16, 24
    block = (np.arange(h)[:, None] // 2 * 12 + np.arange(w)[None, :] // 2)  # 96 blocks of 2×2
    labels = (block % 40 + 1).astype(np.uint16)  # 894-class ids 1..40
    img = np.stack([block, 255 - block, np.zeros_like(block)], -1).astype(np.uint8)
    depth = (1.0 + block * 0.05).astype(np.float32)
    arrays = dict(images=np.repeat(img[..., None], 2, -1), labels=np.repeat(labels[..., None], 2, -1),
                  depths=np.repeat(depth[..., None], 2, -1), rawDepths=np.repeat(depth[..., None], 2, -1))
    write_v73(str(tmp_path / 'l.mat'), arrays)
    scipy_io.savemat(str(tmp_path / 's.mat'), dict(trainNdxs=np.array([[1]]), testNdxs=np.array([[2]])))
    map40 = write_mapping(tmp_path)
    convert_nyuv2(str(tmp_path / 'l.mat'), str(tmp_path / 's.mat'), str(tmp_path))
    pipeline = PIPELINE + [
        dict(type='RandomResizeDepth', scale=(w, h), ratio_range=(1.5, 1.5), keep_ratio=True,
             interpolation='nearest'),
        dict(type='RandomCrop', crop_size=(h, w)),
        dict(type='RandomFlip', prob=1.0),
    ]
    ds = NYUv2Dataset(data_root=str(tmp_path), split='train', pipeline=pipeline)
    out = ds[0]
    code = out['img'][..., 2].astype(np.int64)  # the red channel (BGR) holds the block code
    lut = nyu_label_lut(40, map40)
    assert out['img'].shape[:2] == (h, w) and out['depth_scale_factor'] == pytest.approx(1 / 1.5)
    np.testing.assert_array_equal(out['gt_seg_map'], lut[code % 40 + 1])
    np.testing.assert_allclose(out['gt_depth_map'], (1.0 + code * 0.05) / 1.5, rtol=1e-3)
    assert not np.array_equal(code[:, 0], block[:h, 0])  # the crop / flip moved the content


def test_missing_data_says_how_to_convert(release):
    with pytest.raises(FileNotFoundError, match=r'(?s)image folder .*images/train.*does not exist.*'
                                                r'tools/dataset_converters/nyuv2\.py'):
        NYUv2Dataset(data_root=release['root'], split='train', pipeline=PIPELINE)
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        NYUv2Dataset(data_root=release['root'], split='val', pipeline=PIPELINE)


def test_converter_cli(release, monkeypatch, capsys):
    out = osp.join(release['root'], 'cli')
    monkeypatch.setattr(sys, 'argv', ['nyuv2.py', release['labeled'], release['splits'], '--out', out])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_path(osp.join(REPO, 'tools/dataset_converters/nyuv2.py'), run_name='__main__')
    assert exit_.value.code == 0 and 'train 4, test 3' in capsys.readouterr().out
    assert len(os.listdir(osp.join(out, 'depths', 'test'))) == 3
    assert cv2.imread(osp.join(out, 'depths', 'test', '0001.png'), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    with pytest.raises(SystemExit) as exit_:  # a second run refuses to overwrite
        runpy.run_path(osp.join(REPO, 'tools/dataset_converters/nyuv2.py'), run_name='__main__')
    assert exit_.value.code == 1 and 'already exist' in capsys.readouterr().err


def test_dataset_config_loads_samples(release):
    convert_nyuv2(release['labeled'], release['splits'], release['root'])
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/datasets/nyuv2.py'))
    train = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=release['root']))[0]
    assert tuple(train['inputs'].shape) == (3, 480, 640)  # scaled up to the training crop
    val = DATASETS.build(dict(cfg.val_dataloader.dataset, data_root=release['root']))[0]
    # ground truth at the original size
    assert tuple(val['data_samples'].gt_depth_map.data.shape) == (1, H, W)
    assert cfg.val_evaluator.depth_range == (1e-3, 10.0)


def test_eigen_nyu_crop_and_range_in_the_metric(capsys):
    """NYUv2's evaluation: 0.001 < gt < 10 m and, as an option, the Eigen crop (named in the log)."""
    from mmengine.logging import MMLogger

    from jdbench.evaluation import DEPTH_CROPS, JointMetric, depth_crop_mask, depth_error_stats
    gt = np.full((480, 640), 4.0, np.float32)
    gt[0, 0] = 12.0  # beyond 10 m: invalid under the NYUv2 range
    pred = gt.copy()
    pred[:45] += 1.0  # wrong only outside the crop (rows 0:45)
    pred[:, 601:] += 1.0  # ... and columns 601:640
    mask = depth_crop_mask((480, 640), 'eigen_nyu')
    assert int(mask.sum()) == (471 - 45) * (601 - 41) and DEPTH_CROPS['eigen_nyu']['size'] == (480, 640)
    assert bool(mask[45, 41]) and not bool(mask[44, 41]) and not bool(mask[45, 601]) and bool(mask[470, 600])
    stats = depth_error_stats(pred, gt, (1e-3, 10.0), crop='eigen_nyu')
    assert stats[0] == (471 - 45) * (601 - 41) and stats[1] == 0.0
    full = depth_error_stats(pred, gt, (1e-3, 10.0))
    assert full[0] == 480 * 640 - 1 and full[1] > 0
    MMLogger.get_instance('nyu_metric_test')
    metric = JointMetric(depth_range=(1e-3, 10.0), depth_crop='eigen_nyu')
    sample = dict(pred_depth_map=dict(data=torch.from_numpy(pred)[None]),
                  gt_depth_map=dict(data=torch.from_numpy(gt)[None]))
    metric.process({}, [sample])
    assert metric.evaluate(1)['abs_err'] == 0.0
    assert "crop 'eigen_nyu' (rows 45:471, cols 41:601 of 480x640)" in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"depth crop 'eigen_nyu' is defined on 480x640 ground truth, "
                                         r"got \(288, 384\)"):
        depth_error_stats(np.ones((288, 384)), np.ones((288, 384)), crop='eigen_nyu')
    with pytest.raises(ValueError, match='unknown depth crop'):
        JointMetric(depth_crop='garg')


def test_the_student_trains_and_evaluates_on_the_official_release(tmp_path):
    """Two iterations of mtl_nyuv2 on converted files (data contract, class check hook, NYUv2 metrics)."""
    from mmengine.runner import Runner

    from jdbench.testing import tiny_config
    arrays = release_arrays(n=6, h=32, w=64)
    write_v73(str(tmp_path / 'l.mat'), arrays)
    scipy_io.savemat(str(tmp_path / 's.mat'), dict(trainNdxs=np.array([[1, 2, 3, 4]]).T,
                                                   testNdxs=np.array([[5, 6]]).T))
    write_mapping(tmp_path)
    convert_nyuv2(str(tmp_path / 'l.mat'), str(tmp_path / 's.mat'), str(tmp_path / 'data'))
    cfg = tiny_config(osp.join(REPO, 'configs/baselines/mtl_nyuv2.py'), str(tmp_path / 'data'),
                      str(tmp_path / 'run'), size=(32, 64), max_iters=2)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.val_loop.run()
    assert {'mIoU', 'abs_err', 'rel_err', 'd1'} <= set(metrics) and 0 < metrics['abs_err'] < 10
