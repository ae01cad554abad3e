"""KITTI raw loader: a crafted drive in the real formats (calibration, PNG frames, velodyne scans, annotated
depth, Monodepth2 split files) with hand-computed projections, the ground-truth cache and every bad input."""
import os
import os.path as osp
import runpy

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate

from jdbench.datasets import KITTIRawDataset
from jdbench.datasets.kitti_utils import (from_sparse, load_gt_cache, read_annotated_depth, read_calib_file,
                                          save_gt_cache, to_sparse, velo_to_depth_map, velo_to_image_matrix)
from jdbench.registry import DATASETS, MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATE = '2011_09_26'
DRIVE = f'{DATE}_drive_0001_sync'
FOLDER = f'{DATE}/{DRIVE}'
H, W = 8, 12  # S_rect_02 = (12, 8)
NUM_FRAMES = 5
# Camera 2: f = 10 px, principal point (6, 4); camera 3: f = 20 px, (5, 3) (so a side mix-up shows).
P2 = np.array([[10, 0, 6, 0], [0, 10, 4, 0], [0, 0, 1, 0]], dtype=np.float64)
P3 = np.array([[20, 0, 5, -10], [0, 20, 3, 0], [0, 0, 1, 0]], dtype=np.float64)
# velodyne (x forward, y left, z up) -> camera (x right, y down, z forward), camera 0.5 m behind the scanner.
R_VELO = np.array([[0, -1, 0], [0, 0, -1], [1, 0, 0]], dtype=np.float64)
T_VELO = np.array([0, 0, -0.5])
# Scan points (x, y, z, reflectance) and where they land, worked out by hand for camera 2:
#   camera = (-y, -z, x - 0.5); u = 10 cx / cz + 6, v = 10 cy / cz + 4; pixel (round(v) - 1, round(u) - 1)
POINTS = np.array([
    [10.0, 0.0, 0.0, 0.1],    # cam (0, 0, 9.5): u 6, v 4 -> (3, 5), x 10 (camera z 9.5)
    [5.0, 1.0, 0.5, 0.2],     # cam (-1, -0.5, 4.5): u 3.78, v 2.89 -> (2, 3), x 5 (z 4.5)
    [8.0, 0.01, 0.0, 0.3],    # cam (-0.01, 0, 7.5): u 5.987 -> also (3, 5), nearer: keeps x 8 (z 7.5)
    [10.5, -0.5, 1.0, 0.4],   # cam (0.5, -1, 10): u = 6.5 exactly, half to even 6 -> (2, 5), x 10.5 (z 10)
    [-5.0, 0.0, 0.0, 0.5],    # behind the scanner: dropped
    [10.0, 10.0, 0.0, 0.6],   # cam (-10, 0, 9.5): u -4.5: left of the image, dropped
    [0.2, 0.0, 0.0, 0.7],     # in front of the scanner but behind the camera (cam z -0.3): dropped
], dtype=np.float32)
EXPECTED_X = {(3, 5): 8.0, (2, 3): 5.0, (2, 5): 10.5}
EXPECTED_Z = {(3, 5): 7.5, (2, 3): 4.5, (2, 5): 10.0}


def fmt(values):
    return ' '.join(f'{v:.12e}' for v in np.ravel(values))


def dense(expected, shape=(H, W)):
    out = np.zeros(shape, np.float32)
    for (r, c), v in expected.items():
        out[r, c] = v
    return out


def frame_image(i, cam=2, shape=(H, W)):
    """A distinct, reproducible frame: pixel values encode (frame, camera, position)."""
    rng = np.random.default_rng(100 * cam + i)
    return rng.integers(0, 256, (*shape, 3), dtype=np.uint8)


def write_calib(date_dir, cam2cam_extra=None, drop=()):
    entries = {
        'calib_time': '09-Jan-2012 13:57:47', 'corner_dist': fmt([0.0995]),
        'S_rect_02': fmt([W, H]), 'R_rect_00': fmt(np.eye(3)), 'P_rect_02': fmt(P2),
        'S_rect_03': fmt([W, H]), 'P_rect_03': fmt(P3), **(cam2cam_extra or {})}
    with open(osp.join(date_dir, 'calib_cam_to_cam.txt'), 'w') as f:
        f.write(''.join(f'{k}: {v}\n' for k, v in entries.items() if k not in drop))
    with open(osp.join(date_dir, 'calib_velo_to_cam.txt'), 'w') as f:
        f.write(f'calib_time: 15-Mar-2012 11:37:16\nR: {fmt(R_VELO)}\nT: {fmt(T_VELO)}\n'
                'delta_f: 0.0 0.0\ndelta_c: 0.0 0.0\n')


def make_drive(root, date=DATE, drive=DRIVE, frames=range(NUM_FRAMES), img_shape=(H, W), annotated=True,
               semantic=True, calib=True):
    date_dir = osp.join(root, date)
    drive_dir = osp.join(date_dir, drive)
    for cam in (2, 3):
        os.makedirs(osp.join(drive_dir, f'image_0{cam}', 'data'), exist_ok=True)
    os.makedirs(osp.join(drive_dir, 'velodyne_points', 'data'), exist_ok=True)
    if calib:
        write_calib(date_dir)
    for i in frames:
        name = f'{i:010d}'
        for cam in (2, 3):
            cv2.imwrite(osp.join(drive_dir, f'image_0{cam}', 'data', name + '.png'),
                        frame_image(i, cam, img_shape))
        POINTS.tofile(osp.join(drive_dir, 'velodyne_points', 'data', name + '.bin'))
        if annotated:
            ann = osp.join(drive_dir, 'proj_depth', 'groundtruth', 'image_02')
            os.makedirs(ann, exist_ok=True)
            png = np.zeros((H, W), np.uint16)
            png[1, 2] = 3200 + i  # 12.5 m + i/256
            cv2.imwrite(osp.join(ann, name + '.png'), png)
        for cam in (2, 3) if semantic else ():
            sem = osp.join(drive_dir, 'semantic', f'image_0{cam}')
            os.makedirs(sem, exist_ok=True)
            lab = np.full((H, W), 255, np.uint8)
            lab[:, :W // 2] = i % 19
            cv2.imwrite(osp.join(sem, name + '.png'), lab)
    with open(osp.join(drive_dir, 'poses.txt'), 'w') as f:
        for i in range(max(frames) + 1):
            pose = np.eye(4)[:3]
            pose[2, 3] = 0.5 * i
            f.write(fmt(pose) + '\n')
    return drive_dir


def write_split(root, name, lines):
    path = osp.join(root, 'splits', name)
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(''.join(line + '\n' for line in lines))
    return f'splits/{name}'


@pytest.fixture
def kitti(tmp_path):
    root = str(tmp_path / 'kitti')
    make_drive(root)
    write_split(root, 'tiny/train_files.txt', [f'{FOLDER} {i} l' for i in (1, 2, 3)] + [f'{FOLDER} 2 r'])
    write_split(root, 'tiny/test_files.txt', [f'{FOLDER} {i:010d} l' for i in range(NUM_FRAMES)])
    return root


def build(root, split='splits/tiny/train_files.txt', **kwargs):
    return KITTIRawDataset(split_file=split, data_root=root, **kwargs)


def load(dataset, idx):
    from jdbench.datasets.transforms import LoadSequenceFromFile
    return LoadSequenceFromFile()(dataset.get_data_info(idx))


# ------------------------------------------------------------------------------------------ calibration
def test_read_calib_file_keeps_numbers_and_text(kitti):
    calib = read_calib_file(osp.join(kitti, DATE, 'calib_cam_to_cam.txt'))
    assert calib['calib_time'] == '09-Jan-2012 13:57:47'
    np.testing.assert_array_equal(calib['P_rect_02'].reshape(3, 4), P2)
    np.testing.assert_array_equal(calib['S_rect_02'], [W, H])


def test_velodyne_projection_hand_computed():
    proj = np.eye(4)
    proj[:3, :3], proj[:3, 3] = R_VELO, T_VELO
    P = P2 @ proj
    np.testing.assert_array_equal(velo_to_depth_map(POINTS, P, (H, W), 'x'), dense(EXPECTED_X))
    np.testing.assert_array_equal(velo_to_depth_map(POINTS, P, (H, W), 'z'), dense(EXPECTED_Z))
    # the same from the calibration files' matrices (P_rect_02 · R_rect_00 · [R|T])
    cam = {'P_rect_02': P2.ravel(), 'R_rect_00': np.eye(3).ravel()}
    velo = {'R': R_VELO.ravel(), 'T': T_VELO}
    np.testing.assert_allclose(velo_to_image_matrix(cam, velo, 2, 'c', 'v'), P)


def test_velodyne_projection_matches_a_per_point_reference():
    """Random scan vs a plain loop over the points (the classic rule written out point by point)."""
    rng = np.random.default_rng(0)
    pts = np.concatenate([rng.uniform(-2, 30, (400, 1)), rng.uniform(-8, 8, (400, 1)),
                          rng.uniform(-2, 2, (400, 1)), rng.uniform(0, 1, (400, 1))], 1).astype(np.float32)
    proj = np.eye(4)
    proj[:3, :3], proj[:3, 3] = R_VELO, T_VELO
    P = P3 @ proj
    h, w = 30, 40
    ref = np.zeros((h, w))
    for x, y, z, _ in pts.astype(np.float64):
        if x < 0:
            continue
        p = P @ np.array([x, y, z, 1.0])
        if p[2] <= 0:
            continue
        c, r = int(np.round(p[0] / p[2]) - 1), int(np.round(p[1] / p[2]) - 1)
        if 0 <= r < h and 0 <= c < w and (ref[r, c] == 0 or x < ref[r, c]):
            ref[r, c] = x
    got = velo_to_depth_map(pts, P, (h, w))
    assert (got > 0).sum() > 50
    np.testing.assert_allclose(got, ref, rtol=1e-6)


# ------------------------------------------------------------------------------------------- the dataset
def test_split_sizes_and_triplet_frame_order(kitti):
    ds = build(kitti)
    assert len(ds) == 4
    info = ds.get_data_info(0)
    assert info['frame_ids'] == (0, -1, 1) and info['frame_index'] == 1
    data = osp.join(kitti, FOLDER, 'image_02', 'data')
    assert info['img_paths'] == [osp.join(data, f'{i:010d}.png') for i in (1, 0, 2)]
    results = load(ds, 1)  # frame 2: frames 2, 1, 3
    for img, i in zip(results['imgs'], (2, 1, 3)):
        np.testing.assert_array_equal(img, frame_image(i, 2))
    right = load(ds, 3)  # 'r' -> image_03
    assert right['img_paths'][0].endswith(osp.join('image_03', 'data', '0000000002.png'))
    np.testing.assert_array_equal(right['imgs'][0], frame_image(2, 3))
    assert len(build(kitti, 'splits/tiny/test_files.txt', frame_ids=(0, ))) == NUM_FRAMES


def test_intrinsics_from_calibration_and_monodepth2(kitti):
    ds = build(kitti)
    K = load(ds, 0)['K']  # P_rect_02 is 1-based (MATLAB): cx, cy - 1 for 0-based pixels
    np.testing.assert_array_equal(K, [[10, 0, 5, 0], [0, 10, 3, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    assert K.dtype == np.float32
    np.testing.assert_array_equal(load(ds, 3)['K'][:3, :3], [[20, 0, 4], [0, 20, 2], [0, 0, 1]])  # right
    md2 = load(build(kitti, intrinsics='monodepth2'), 0)['K']
    np.testing.assert_allclose(md2, [[0.58 * W, 0, 0.5 * W, 0], [0, 1.92 * H, 0.5 * H, 0], [0, 0, 1, 0],
                                     [0, 0, 0, 1]], rtol=1e-6)


def test_K_puts_points_on_their_ground_truth_pixel(kitti):
    """The 0-based K and the ground-truth rule agree: K · X / z rounds to the pixel the scan is stored at."""
    ds = build(kitti, 'splits/tiny/test_files.txt', frame_ids=(0, ), gt='velodyne', velodyne_depth='z')
    results = load(ds, 0)
    K, gt = results['K'], results['gt_depth_map']
    for x, y, z, _ in POINTS[:3]:  # (the 4th point sits exactly on a half pixel, where rounding ties)
        cam = R_VELO @ [x, y, z] + T_VELO
        u, v = (K[:3, :3] @ cam)[:2] / cam[2]
        assert gt[int(np.round(v)), int(np.round(u))] > 0


def test_intrinsics_scaled_to_images_of_another_size(tmp_path):
    """Frames stored at twice S_rect_02: K (from P_rect_02 at S_rect_02) doubles."""
    root = str(tmp_path / 'big')
    make_drive(root, img_shape=(2 * H, 2 * W))
    write_split(root, 's/train_files.txt', [f'{FOLDER} 2 l'])
    K = load(build(root, 'splits/s/train_files.txt'), 0)['K']
    np.testing.assert_allclose(K[:3, :3], [[20, 0, 10], [0, 20, 6], [0, 0, 1]])


def test_velodyne_gt_through_the_dataset(kitti):
    ds = build(kitti, 'splits/tiny/test_files.txt', frame_ids=(0, ), gt='velodyne')
    results = load(ds, 3)
    np.testing.assert_array_equal(results['gt_depth_map'], dense(EXPECTED_X))
    assert results['ori_shape'] == (H, W)
    z = load(build(kitti, 'splits/tiny/test_files.txt', frame_ids=(0, ), gt='velodyne',
                   velodyne_depth='z'), 0)
    np.testing.assert_array_equal(z['gt_depth_map'], dense(EXPECTED_Z))


def test_annotated_png_in_drive_and_in_annotated_root(kitti, tmp_path):
    ds = build(kitti, 'splits/tiny/test_files.txt', frame_ids=(0, ), gt='annotated')
    depth = load(ds, 2)['gt_depth_map']
    assert depth.dtype == np.float32 and depth.shape == (H, W)
    assert depth[1, 2] == pytest.approx((3200 + 2) / 256) and np.count_nonzero(depth) == 1
    # the separate data_depth_annotated tree: {train,val}/<drive>/proj_depth/groundtruth/image_02
    ann_root = tmp_path / 'kitti_depth'
    target = ann_root / 'val' / DRIVE / 'proj_depth' / 'groundtruth' / 'image_02'
    os.makedirs(target)
    png = np.zeros((H, W), np.uint16)
    png[4, 4] = 256 * 40
    for i in range(NUM_FRAMES):
        cv2.imwrite(str(target / f'{i:010d}.png'), png)
    ds = build(kitti, 'splits/tiny/test_files.txt', frame_ids=(0, ), gt='annotated',
               annotated_root=str(ann_root))
    depth = load(ds, 0)['gt_depth_map']
    assert depth[4, 4] == 40.0 and np.count_nonzero(depth) == 1


def test_annotated_png_must_be_16_bit(tmp_path):
    path = str(tmp_path / 'd.png')
    cv2.imwrite(path, np.full((3, 4), 200, np.uint8))
    with pytest.raises(ValueError, match=r'd\.png is uint8.*16-bit PNG'):
        read_annotated_depth(path)


def test_semantic_labels_and_poses(kitti):
    ds = build(kitti, with_seg=True, with_poses=True)
    results = load(ds, 1)  # frame 2
    assert results['gt_seg_map'].dtype == np.uint8 and (results['gt_seg_map'][:, :W // 2] == 2).all()
    assert (results['gt_seg_map'][:, W // 2:] == 255).all() and results['seg_fields'] == ['gt_seg_map']
    np.testing.assert_allclose(results['poses'][:, 2, 3], [1.0, 0.5, 1.5])  # frames 2, 1, 3


def test_registered_and_metainfo(kitti):
    ds = DATASETS.build(dict(type='KITTIRawDataset', data_root=kitti,
                             split_file='splits/tiny/train_files.txt'))
    assert ds.metainfo['frame_ids'] == (0, -1, 1) and len(ds.metainfo['classes']) == 19


# ----------------------------------------------------------------------------------------------- the cache
def test_gt_cache_object_array_round_trip(tmp_path):
    maps = [np.arange(12, dtype=np.float32).reshape(3, 4), np.ones((5, 7), np.float32) * 2.5]
    path = str(tmp_path / 'gt_depths.npz')
    save_gt_cache(path, maps, ['a 1 l', 'b 2 l'])
    with np.load(path, allow_pickle=True) as npz:
        assert npz['data'].dtype == object and npz['data'].shape == (2, )
    got, lines = load_gt_cache(path)
    assert lines == ['a 1 l', 'b 2 l']
    for a, b in zip(got, maps):
        np.testing.assert_array_equal(a, b)
    # maps of one size still go in as an object array (not a 3-D float array)
    save_gt_cache(path, [maps[0], maps[0]])
    with np.load(path, allow_pickle=True) as npz:
        assert npz['data'].dtype == object and npz['data'][1].shape == (3, 4)
    sparse = to_sparse(maps[1])
    np.testing.assert_array_equal(from_sparse(sparse), maps[1])


def test_converter_writes_the_cache_the_dataset_reads(kitti, capsys):
    mod = runpy.run_path(osp.join(REPO, 'tools', 'dataset_converters', 'kitti_gt.py'), run_name='kitti_gt')
    assert mod['main']([kitti, 'splits/tiny/test_files.txt']) == 0
    out = capsys.readouterr().out
    assert f'{NUM_FRAMES} ground-truth maps (velodyne' in out and '5/5' in out  # the progress bar
    cache = osp.join(kitti, 'splits', 'tiny', 'gt_depths.npz')
    ds = build(kitti, 'splits/tiny/test_files.txt', frame_ids=(0, ), gt='cache')
    for i in range(NUM_FRAMES):
        np.testing.assert_array_equal(load(ds, i)['gt_depth_map'], dense(EXPECTED_X))
    # an existing cache is kept unless --overwrite
    before = os.path.getmtime(cache)
    assert mod['main']([kitti, 'splits/tiny/test_files.txt']) == 1
    assert 'already exists' in capsys.readouterr().err and os.path.getmtime(cache) == before
    # annotated source into another file
    other = osp.join(kitti, 'ann.npz')
    assert mod['main']([kitti, 'splits/tiny/test_files.txt', '--gt', 'annotated', '--out', other]) == 0
    maps, _ = load_gt_cache(other)
    assert [m[1, 2] * 256 for m in maps] == [3200 + i for i in range(NUM_FRAMES)]


def test_cache_of_another_split_is_refused(kitti):
    write_split(kitti, 'tiny/other.txt', [f'{FOLDER} 4 l', f'{FOLDER} 3 l', f'{FOLDER} 2 l', f'{FOLDER} 1 l',
                                         f'{FOLDER} 0 l'])
    lines = [f'{FOLDER} {i:010d} l' for i in range(NUM_FRAMES)]
    save_gt_cache(osp.join(kitti, 'c.npz'), [np.zeros((H, W))] * NUM_FRAMES, lines)
    with pytest.raises(ValueError, match=r'c\.npz was written for another split.*kitti_gt\.py'):
        build(kitti, 'splits/tiny/other.txt', frame_ids=(0, ), gt='cache', gt_cache='c.npz')
    save_gt_cache(osp.join(kitti, 'c.npz'), [np.zeros((H, W))] * 2)
    with pytest.raises(ValueError, match=r'holds 2 maps but split file .*other\.txt has 5 lines'):
        build(kitti, 'splits/tiny/other.txt', frame_ids=(0, ), gt='cache', gt_cache='c.npz')


# ------------------------------------------------------------------------------------------------ bad input
def test_split_naming_frames_that_do_not_exist(kitti):
    write_split(kitti, 'bad/train_files.txt', [f'{FOLDER} 2 l', f'{FOLDER} 40 l', f'{FOLDER} 41 l'])
    with pytest.raises(FileNotFoundError) as e:
        build(kitti, 'splits/bad/train_files.txt', frame_ids=(0, ))
    msg = str(e.value)
    assert 'train_files.txt line 2' in msg and '0000000040.png is missing' in msg and 'frames 0..4' in msg
    assert '1 more line(s)' in msg
    write_split(kitti, 'bad/drive.txt', [f'{DATE}/{DATE}_drive_0099_sync 2 l'])
    with pytest.raises(FileNotFoundError, match=r'drive folder .*drive_0099_sync does not exist.*download'):
        build(kitti, 'splits/bad/drive.txt')


def test_triplet_at_the_start_of_a_drive(kitti):
    write_split(kitti, 'bad/start.txt', [f'{FOLDER} 1 l', f'{FOLDER} 0 l', f'{FOLDER} 4 l'])
    with pytest.raises(ValueError) as e:
        build(kitti, 'splits/bad/start.txt')
    msg = str(e.value)
    assert 'start.txt line 2' in msg and 'start of drive' in msg and 'no frame -1 (= 0-1)' in msg
    assert 'kitti_gt.py' in msg and '--filter-frames -1 1' in msg and '1 more line(s)' in msg
    # the suggested filter makes a split that loads
    mod = runpy.run_path(osp.join(REPO, 'tools', 'dataset_converters', 'kitti_gt.py'), run_name='kitti_gt')
    out = osp.join(kitti, 'splits', 'bad', 'start_filtered.txt')
    assert mod['main']([kitti, 'splits/bad/start.txt', '--filter-frames', '-1', '1', '--out', out]) == 0
    assert open(out).read().split('\n')[:-1] == [f'{FOLDER} 1 l']
    assert len(build(kitti, out)) == 1
    # evaluation needs no neighbours
    assert len(build(kitti, 'splits/bad/start.txt', frame_ids=(0, ))) == 3


def test_missing_frame_inside_a_drive(kitti):
    os.remove(osp.join(kitti, FOLDER, 'image_02', 'data', '0000000002.png'))
    with pytest.raises(FileNotFoundError, match=r'line 1 .*missing frame: .*0000000002\.png does not exist'):
        build(kitti)  # line 1 = frame 1, whose frame +1 is gone


def test_calibration_without_P_rect_02(tmp_path):
    root = str(tmp_path / 'k')
    make_drive(root)
    write_calib(osp.join(root, DATE), drop=('P_rect_02', ))
    write_split(root, 's/train_files.txt', [f'{FOLDER} 2 l'])
    with pytest.raises(ValueError, match=r'calib_cam_to_cam\.txt has no P_rect_02 .*calib\.zip'):
        build(root, 'splits/s/train_files.txt')
    with pytest.raises(ValueError, match=r'has no P_rect_02'):
        build(root, 'splits/s/train_files.txt', intrinsics='monodepth2', frame_ids=(0, ), gt='velodyne')
    # Monodepth2's fixed K needs no calibration
    assert len(build(root, 'splits/s/train_files.txt', intrinsics='monodepth2')) == 1


def test_drive_without_calibration(tmp_path):
    root = str(tmp_path / 'k')
    make_drive(root, calib=False)
    write_split(root, 's/train_files.txt', [f'{FOLDER} 2 l'])
    with pytest.raises(FileNotFoundError, match=rf'drive {FOLDER} .*line 1.* has no calibration: .*'
                       rf'calib_cam_to_cam\.txt does not exist.*{DATE}_calib\.zip'):
        build(root, 'splits/s/train_files.txt')


def test_missing_ground_truth_and_bad_lines(kitti):
    os.remove(osp.join(kitti, FOLDER, 'velodyne_points', 'data', '0000000003.bin'))
    with pytest.raises(FileNotFoundError, match=r'line 4 .*velodyne scan .*0000000003\.bin does not exist'):
        build(kitti, 'splits/tiny/test_files.txt', frame_ids=(0, ), gt='velodyne')
    write_split(kitti, 'bad/format.txt', [f'{FOLDER} 2 l', f'{FOLDER} two l'])
    with pytest.raises(ValueError, match=r'format\.txt line 2 .*frame must be an integer'):
        build(kitti, 'splits/bad/format.txt')
    with pytest.raises(FileNotFoundError, match=r'nope\.txt does not exist.*monodepth2'):
        build(kitti, 'splits/nope.txt')
    with pytest.raises(ValueError, match='frame_ids'):
        build(kitti, frame_ids=(0, 's'))


def test_truncated_scan(kitti):
    path = osp.join(kitti, FOLDER, 'velodyne_points', 'data', '0000000001.bin')
    with open(path, 'ab') as f:
        f.write(b'\0' * 6)
    ds = build(kitti, 'splits/tiny/test_files.txt', frame_ids=(0, ), gt='velodyne')
    with pytest.raises(ValueError, match=r'0000000001\.bin has \d+ bytes, not a multiple of 16'):
        load(ds, 1)


# --------------------------------------------------------------------------------------- the base config
def test_base_config_pipelines_end_to_end(kitti):
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'datasets', 'kitti_eigen_zhou.py'))
    assert cfg.train_dataloader.dataset.frame_ids == (0, -1, 1)
    assert cfg.val_dataloader.dataset.gt == 'velodyne' and cfg.val_dataloader.dataset.frame_ids == (0, )
    train = dict(cfg.train_dataloader.dataset, data_root=kitti, split_file='splits/tiny/train_files.txt')
    ds = DATASETS.build(train)
    pre = MODELS.build(dict(type='SequenceDataPreProcessor'))
    batch = pre(pseudo_collate([ds[0], ds[1]]), True)
    assert batch['inputs'].shape == (2, 3 * 3 * 2, 192, 640) and batch['inputs'].dtype == torch.float32
    K = np.array(batch['data_samples'][0].K)
    np.testing.assert_allclose(K[0], [0.58 * 640, 0, 0.5 * 640, 0], rtol=1e-6)  # Monodepth2's K at 640x192
    np.testing.assert_allclose(K[1], [0, 1.92 * 192, 0.5 * 192, 0], rtol=1e-6)
    val = dict(cfg.val_dataloader.dataset, data_root=kitti, split_file='splits/tiny/test_files.txt')
    item = DATASETS.build(val)[3]
    assert item['inputs'].shape == (3, 192, 640)
    assert item['data_samples'].gt_depth_map.data.shape == (1, H, W)  # GT stays at its own size
    np.testing.assert_array_equal(item['data_samples'].gt_depth_map.data[0].numpy(), dense(EXPECTED_X))
    assert item['data_samples'].ori_shape == (H, W) and item['data_samples'].img_shape == (192, 640)
    assert Compose(cfg.test_pipeline) is not None
