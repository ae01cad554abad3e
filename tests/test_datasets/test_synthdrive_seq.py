"""SynthDrive sequences in the KITTI raw layout: files and formats, determinism, the LiDAR scan against the
calibration and the dense ground truth, and a photometric warp with the true pose (independent numpy
reference for back-projection, projection and bilinear sampling)."""
import dataclasses
import hashlib
import json
import os
import os.path as osp
import runpy
import sys

import cv2
import numpy as np
import pytest

from jdbench.datasets.synthdrive import STYLES, render_sequences, shading
from jdbench.datasets.synthdrive.camera import Camera
from jdbench.datasets.synthdrive.classes import BICYCLE, BUS, CAR, MOTORCYCLE, PERSON, RIDER, TRUCK
from jdbench.datasets.synthdrive.kitti_writer import SEQ_META_FILE, calibration, split_lines, write_splits
from jdbench.datasets.synthdrive.lidar import LidarScan, cast_scan
from jdbench.datasets.synthdrive.raycast import (GROUND_ID, intersect_boxes, intersect_cylinders,
                                                 intersect_ellipsoids)
from jdbench.datasets.synthdrive.scene import BOX, CYLINDER, Material, SceneBuilder
from jdbench.datasets.synthdrive.sequence import (FRAME_INTERVAL, MovingCamera, Rig, render_sequence,
                                                  sample_rig, sample_sequence)
from jdbench.datasets.synthdrive.shadows import ground_shadow

SIZE = (32, 104)
DATE = '2026_01_01'
DYNAMIC = [PERSON, RIDER, CAR, TRUCK, BUS, MOTORCYCLE, BICYCLE]


def _digest(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def _read_calib(path):
    """A direct reading of KITTI's ``KEY: v v v`` text (what Monodepth2's read_calib_file does)."""
    out = {}
    for line in open(path):
        key, value = line.split(':', 1)
        try:
            out[key] = np.array([float(v) for v in value.split()])
        except ValueError:
            pass
    return out


def _velo_to_image(date_dir):
    """``P_rect_02 @ R_rect_00 @ velo2cam`` (3x4) from the written calibration."""
    cam = _read_calib(osp.join(date_dir, 'calib_cam_to_cam.txt'))
    velo = _read_calib(osp.join(date_dir, 'calib_velo_to_cam.txt'))
    v2c = np.eye(4)
    v2c[:3, :3], v2c[:3, 3] = velo['R'].reshape(3, 3), velo['T']
    rect = np.eye(4)
    rect[:3, :3] = cam['R_rect_00'].reshape(3, 3)
    return cam['P_rect_02'].reshape(3, 4) @ rect @ v2c, cam


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('seq') / 'kitti')
    summary = render_sequences(root, num_sequences=3, num_frames=4, size=SIZE, seed=5, num_val=1, num_test=1)
    return root, summary


def test_layout_and_formats(dataset):
    root, summary = dataset
    drives = [f'{DATE}/{DATE}_drive_{i:04d}_sync' for i in (1, 2, 3)]
    expected = {SEQ_META_FILE, f'{DATE}/calib_cam_to_cam.txt', f'{DATE}/calib_velo_to_cam.txt',
                'splits/synthdrive/train_files.txt', 'splits/synthdrive/val_files.txt',
                'splits/synthdrive/test_files.txt'}
    for d in drives:
        expected |= {f'{d}/poses.txt', f'{d}/image_02/timestamps.txt', f'{d}/velodyne_points/timestamps.txt'}
        for i in range(4):
            expected |= {f'{d}/image_02/data/{i:010d}.png', f'{d}/velodyne_points/data/{i:010d}.bin',
                         f'{d}/proj_depth/groundtruth/image_02/{i:010d}.png',
                         f'{d}/semantic/image_02/{i:010d}.png'}
    assert set(_digest(root)) == expected
    assert summary['num_frames_total'] == 12 and summary['frames_per_s'] > 0

    # split files: train/val keep frames with both neighbours, test keeps all; drives split in order
    def lines(split):
        return open(osp.join(root, 'splits', 'synthdrive', f'{split}_files.txt')).read().splitlines()
    assert lines('train') == [f'{drives[0]} 1 l', f'{drives[0]} 2 l']
    assert lines('val') == [f'{drives[1]} 1 l', f'{drives[1]} 2 l']
    assert lines('test') == [f'{drives[2]} {i} l' for i in range(4)]

    d = osp.join(root, drives[0])
    img = cv2.imread(osp.join(d, 'image_02/data/0000000002.png'), cv2.IMREAD_UNCHANGED)
    assert img.shape == (*SIZE, 3) and img.dtype == np.uint8
    depth_png = cv2.imread(osp.join(d, 'proj_depth/groundtruth/image_02/0000000002.png'), -1)
    assert depth_png.shape == SIZE and depth_png.dtype == np.uint16
    label = cv2.imread(osp.join(d, 'semantic/image_02/0000000002.png'), cv2.IMREAD_UNCHANGED)
    assert label.shape == SIZE and label.dtype == np.uint8
    sky = label == 10
    assert sky.any() and (depth_png[sky] == 0).all() and (depth_png[~sky] > 0).all()

    # the files hold exactly what the renderer produced (depth quantised to 1/256 m)
    frames = list(render_sequence(_drive_seed_of(root, 0), 4, SIZE, 'day', sample_rig(5, 0)))
    np.testing.assert_array_equal(img[..., ::-1], frames[2]['img'])
    np.testing.assert_array_equal(label, frames[2]['label'])
    np.testing.assert_allclose(depth_png / 256.0, frames[2]['depth'], atol=0.5 / 256 + 1e-6)
    velo = np.fromfile(osp.join(d, 'velodyne_points/data/0000000002.bin'), np.float32)
    assert velo.size % 4 == 0
    velo = velo.reshape(-1, 4)
    np.testing.assert_array_equal(velo, frames[2]['velo'])
    assert len(velo) > 1000 and np.isfinite(velo).all()
    assert (velo[:, 3] >= 0).all() and (velo[:, 3] <= 1).all() and (velo[:, 0] > 0).all()
    assert np.linalg.norm(velo[:, :3], axis=1).max() <= 120.0

    # calibration: keys parse, sizes, rotations; poses: 12 numbers per line, frame 0 = identity
    date_dir = osp.join(root, DATE)
    _, cam = _velo_to_image(date_dir)
    for c in range(4):
        for key, n in (('S', 2), ('K', 9), ('D', 5), ('R', 9), ('T', 3), ('S_rect', 2), ('R_rect', 9),
                       ('P_rect', 12)):
            assert cam[f'{key}_0{c}'].shape == (n,)
    assert cam['S_rect_02'].tolist() == [SIZE[1], SIZE[0]]
    rect = cam['R_rect_00'].reshape(3, 3)
    np.testing.assert_allclose(rect @ rect.T, np.eye(3), atol=1e-10)
    assert not np.allclose(rect, np.eye(3))                      # a real rectification rotation to apply
    velo_calib = _read_calib(osp.join(date_dir, 'calib_velo_to_cam.txt'))
    np.testing.assert_allclose(np.linalg.det(velo_calib['R'].reshape(3, 3)), 1.0, atol=1e-10)
    poses = np.loadtxt(osp.join(d, 'poses.txt'))
    assert poses.shape == (4, 12)
    np.testing.assert_array_equal(poses[0], np.eye(4)[:3].ravel())
    np.testing.assert_allclose(poses, np.stack([f['pose'][:3].ravel() for f in frames]), atol=1e-11)
    stamps = open(osp.join(d, 'image_02/timestamps.txt')).read().splitlines()
    assert stamps[:2] == ['2026-01-01 12:00:00.000000000', '2026-01-01 12:00:00.100000000']


def _drive_seed_of(root, drive):
    with open(osp.join(root, SEQ_META_FILE)) as f:
        return json.load(f)['drives'][drive]['seed']


def test_deterministic_and_seeded(dataset, tmp_path):
    root, _ = dataset
    digest = _digest(root)
    again = str(tmp_path / 'again')
    render_sequences(again, num_sequences=3, num_frames=4, size=SIZE, seed=5, num_val=1, num_test=1)
    assert _digest(again) == digest
    # one more drive changes no earlier drive's files (only the splits and meta)
    more = str(tmp_path / 'more')
    render_sequences(more, num_sequences=4, num_frames=4, size=SIZE, seed=5, num_val=1, num_test=1)
    grown = _digest(more)
    assert all(grown[k] == v for k, v in digest.items() if not k.startswith('splits') and k != SEQ_META_FILE)
    other = str(tmp_path / 'other')
    render_sequences(other, num_sequences=3, num_frames=4, size=SIZE, seed=6, num_val=1, num_test=1)
    changed = _digest(other)
    assert all(changed[k] != v for k, v in digest.items() if k.endswith('.png') and 'image_02/data' in k)


def test_velodyne_projects_onto_the_annotated_depth(tmp_path):
    """Projecting each scan point with P_rect_02 @ R_rect_00 @ velo2cam and KITTI's ``round(u) - 1`` pixel
    rule lands on a pixel whose annotated depth equals the point's **camera z** (the projection's third
    coordinate) up to the depth change over the < 0.5 px between the point and the pixel centre: after a
    first-order correction with the ground truth's gradient it matches to 0.2 %. (The classic Eigen GT stores
    the velodyne **x**, forward distance, instead; it differs by the scanner's offset from the camera.)"""
    root = str(tmp_path / 'k')
    render_sequences(root, num_sequences=1, num_frames=3, size=(64, 208), seed=1, num_val=0, num_test=0)
    p, _ = _velo_to_image(osp.join(root, DATE))
    d = osp.join(root, DATE, f'{DATE}_drive_0001_sync')
    for frame in range(3):
        velo = np.fromfile(osp.join(d, f'velodyne_points/data/{frame:010d}.bin'), np.float32).reshape(-1, 4)
        gt = cv2.imread(osp.join(d, f'proj_depth/groundtruth/image_02/{frame:010d}.png'), -1) / 256.0
        im = np.hstack([velo[:, :3].astype(np.float64), np.ones((len(velo), 1))]) @ p.T
        z = im[:, 2]
        uc, vc = im[:, 0] / z - 1, im[:, 1] / z - 1                      # 0-based continuous pixel
        u, v = np.round(uc), np.round(vc)
        h, w = gt.shape
        ok = (z > 0) & (u >= 1) & (u < w - 1) & (v >= 1) & (v < h - 1)
        u, v, z, uc, vc, x = u[ok].astype(int), v[ok].astype(int), z[ok], uc[ok], vc[ok], velo[ok, 0]
        assert ok.sum() > 0.05 * h * w                           # sparse, like a real scan, but not empty
        g = gt[v, u]
        rel = np.abs(g - z) / z
        assert np.median(rel) < 0.01 and np.mean(rel < 0.05) > 0.9
        # first-order: depth at the pixel centre = z + (centre - point) . gradient, where the GT is smooth
        gx, gy = (gt[v, u + 1] - gt[v, u - 1]) / 2, (gt[v + 1, u] - gt[v - 1, u]) / 2
        corrected = np.abs(g - (z + (u - uc) * gx + (v - vc) * gy)) / z
        nb = np.stack([gt[v + dv, u + du] for dv in (-1, 0, 1) for du in (-1, 0, 1)])
        smooth = (nb.max(0) - nb.min(0)) < 0.05 * g
        assert smooth.sum() > 500
        assert np.median(corrected[smooth]) < 5e-4 and np.percentile(corrected[smooth], 95) < 0.002
        # the forward distance is not the camera depth (scanner 0.2-0.35 m behind the camera)
        assert 0.1 < np.median(x - z) < 0.45 and np.median(np.abs(x - g)) > 2 * np.median(np.abs(z - g))


def _bilinear(img, u, v):
    """Sample ``img`` (H, W, C) at float pixel coordinates (0-based centres) with bilinear weights."""
    h, w = img.shape[:2]
    u0, v0 = np.clip(np.floor(u).astype(int), 0, w - 2), np.clip(np.floor(v).astype(int), 0, h - 2)
    a, b = (u - u0)[..., None], (v - v0)[..., None]
    return ((1 - a) * (1 - b) * img[v0, u0] + a * (1 - b) * img[v0, u0 + 1] + (1 - a) * b * img[v0 + 1, u0]
            + a * b * img[v0 + 1, u0 + 1])


def _warp_error(target, source, depth, src_depth, k, t_src_tgt, label):
    """Mean |target - source warped into the target| over static, visible, non-occluded pixels; numpy
    back-projection ``X = depth * K^-1 [u, v, 1]``, rigid transform, projection ``K X / z``."""
    h, w = depth.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    x = np.stack([(u - k[0, 2]) / k[0, 0] * depth, (v - k[1, 2]) / k[1, 1] * depth, depth], -1)
    y = x @ t_src_tgt[:3, :3].T + t_src_tgt[:3, 3]
    us, vs = k[0, 0] * y[..., 0] / y[..., 2] + k[0, 2], k[1, 1] * y[..., 1] / y[..., 2] + k[1, 2]
    inside = (depth > 0) & (y[..., 2] > 0.1) & (us >= 0) & (us <= w - 1) & (vs >= 0) & (vs <= h - 1)
    near = src_depth[np.clip(np.round(vs), 0, h - 1).astype(int), np.clip(np.round(us), 0, w - 1).astype(int)]
    visible = np.abs(near - y[..., 2]) < 0.03 * y[..., 2]
    static = ~np.isin(label, DYNAMIC)
    mask = inside & visible & static
    warped = _bilinear(source.astype(np.float64), us, vs)
    err = np.abs(warped - target).mean(-1)
    return err[mask], np.abs(source.astype(np.float64) - target).mean(-1)[mask], mask.mean()


def _rendered_pair_errors(root, style):
    """Per drive: the warp errors (true pose, translation x0.7 and x1.3, a 0.3 degree yaw error) and the
    identity error of frame 2 warped into frame 1, all from the written files (1 px = 0-based K from
    P_rect_02, poses.txt, the depth PNG)."""
    render_sequences(root, num_sequences=2, num_frames=3, size=(128, 416), seed=3, style=style, num_val=0,
                     num_test=0)
    _, cam = _velo_to_image(osp.join(root, DATE))
    k = cam['P_rect_02'].reshape(3, 4)[:, :3].copy()
    k[:2, 2] -= 1.0                                                      # 1-based (MATLAB) -> 0-based pixels
    out = []
    for drive in (1, 2):
        d = osp.join(root, DATE, f'{DATE}_drive_{drive:04d}_sync')
        poses = np.loadtxt(osp.join(d, 'poses.txt')).reshape(-1, 3, 4)
        poses = np.concatenate([poses, np.tile([[[0, 0, 0, 1.0]]], (len(poses), 1, 1))], 1)
        img = [cv2.imread(osp.join(d, f'image_02/data/{i:010d}.png')).astype(np.float64) for i in (1, 2)]
        dep = [cv2.imread(osp.join(d, f'proj_depth/groundtruth/image_02/{i:010d}.png'), -1) / 256.0
               for i in (1, 2)]
        label = cv2.imread(osp.join(d, 'semantic/image_02/0000000001.png'), -1)
        true = np.linalg.inv(poses[2]) @ poses[1]                         # frame 1 camera -> frame 2 camera
        c, s = np.cos(0.005), np.sin(0.005)
        turned = true.copy()
        turned[:3, :3] = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]) @ true[:3, :3]
        errs = {}
        for name, scale in (('true', 1.0), ('short', 0.7), ('long', 1.3), ('turned', None)):
            pose = turned if scale is None else true.copy()
            if scale is not None:
                pose[:3, 3] *= scale
            errs[name], ident, share = _warp_error(img[0], img[1], dep[0], dep[1], k, pose, label)
            if name == 'true':
                errs['identity'], errs['share'] = ident, share
        out.append(errs)
    return out


def test_true_pose_warp_reconstructs_the_target(tmp_path, monkeypatch):
    """Known answer: frame t+1 warped into frame t with the written pose, depth and intrinsics reconstructs
    frame t on static pixels, better than with a slightly wrong pose. Noise-free style; what remains is edge
    aliasing plus the image effects that legitimately change with the view (vignetting, fog). With those two
    off as well, the median error is below one grey level: the geometry is exact."""
    monkeypatch.setitem(STYLES, 'clean', dataclasses.replace(STYLES['day'], noise_sigma=(0.0, 0.0)))
    for errs in _rendered_pair_errors(str(tmp_path / 'a'), 'clean'):
        err = errs['true']
        assert errs['share'] > 0.5
        assert np.median(err) < 2.5 and err.mean() < 0.5 * errs['identity'].mean()
        assert np.mean(err > 20) < 0.04                                   # large errors only on edges
        for wrong in ('short', 'long', 'turned'):
            assert err.mean() < errs[wrong].mean()
    monkeypatch.setitem(STYLES, 'flat', dataclasses.replace(STYLES['day'], noise_sigma=(0.0, 0.0),
                                                            fog_density=(0.0, 0.0)))
    monkeypatch.setattr(shading, '_vignette', lambda h, w: np.ones((h, w, 1), np.float32))
    for errs in _rendered_pair_errors(str(tmp_path / 'b'), 'flat'):
        assert np.median(errs['true']) < 0.8
        assert np.median(errs['true']) < 0.6 * min(np.median(errs[w]) for w in ('short', 'long', 'turned'))


def test_single_frame_sequences_are_refused(tmp_path):
    for n in (1, 2):
        with pytest.raises(ValueError, match='at least 3 frames'):
            render_sequences(str(tmp_path / 'x'), num_sequences=1, num_frames=n, size=SIZE)
    assert not osp.exists(tmp_path / 'x')
    with pytest.raises(ValueError, match="drive 'a/b' has 1 frame"):
        split_lines([('a/b', 1)], neighbours=0)
    with pytest.raises(ValueError, match='at least 3 frames'):
        write_splits(str(tmp_path), 's', {'train': [('a/c', 5), ('a/b', 2)]})
    assert split_lines([('a/b', 4)]) == ['a/b 1 l', 'a/b 2 l']
    with pytest.raises(ValueError, match='raise drives_per_date'):
        render_sequences(str(tmp_path / 'z'), num_sequences=29, num_frames=3, size=SIZE, drives_per_date=1)
    assert not osp.exists(tmp_path / 'z')
    with pytest.raises(ValueError, match='at least one train drive'):
        render_sequences(str(tmp_path / 'y'), num_sequences=2, num_frames=3, size=SIZE, num_val=1, num_test=1)


def test_motion_known_answers():
    """Movers translate at their speed along their heading; nothing low stands in the ego vehicle's path; the
    camera advances ``speed * t`` along the street; the scanner and camera stay rigidly calibrated."""
    rig = sample_rig(0, 1)
    moving = 0
    for seed in range(6):
        world = sample_sequence(seed, 12, rig)
        prims0, last = world.prims_at(0), world.prims_at(11)
        shift = last.centre - prims0.centre
        for g, speed in world.speeds.items():
            sel = prims0.group == g
            kind, yaw = world.scene.movers[g]
            expected = speed * 11 * FRAME_INTERVAL * np.array([np.sin(yaw), 0.0, np.cos(yaw)])
            np.testing.assert_allclose(shift[sel], np.broadcast_to(expected, shift[sel].shape), atol=1e-9)
            moving += speed > 0
        static = np.linalg.norm(world.velocity, axis=1) == 0
        np.testing.assert_array_equal(shift[static], 0.0)
        for f in range(12):
            prims = world.prims_at(f)
            lo, hi = prims.bounds()
            low = (lo[:, 1] < 2.5) & (hi[:, 1] > 0.2)
            x0, x1, z0, z1 = world.ego_rects[f]
            assert not (low & (lo[:, 0] < x1) & (hi[:, 0] > x0) & (lo[:, 2] < z1) & (hi[:, 2] > z0)).any()
        tr = world.trajectory
        np.testing.assert_allclose(tr.z, tr.speed * FRAME_INTERVAL * np.arange(12))
        assert 0 < tr.speed <= 11 and np.abs(tr.heading).max() < 0.031 and np.abs(tr.pitch).max() < 0.015
        pose = world.cam_to_world(11)
        np.testing.assert_allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-12)
        assert np.linalg.norm(pose[:3, 3]) == pytest.approx(tr.speed * 1.1, rel=0.02)
        # rigid rig: scanner -> street -> camera equals the constant velo_to_camera at every frame
        for f in (0, 7):
            cam, body = world.camera(f, SIZE), world.scanner(f)
            p_velo = np.array([[5.0, 1.0, -0.5], [20.0, -3.0, 1.0]])
            from_velo = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])   # to right/down/fwd
            street = body.origin + (p_velo @ from_velo.T) @ body.axes()
            in_cam = (street - cam.origin) @ cam.axes().T
            t = rig.velo_to_camera()
            np.testing.assert_allclose(in_cam, p_velo @ t[:3, :3].T + t[:3, 3], atol=1e-9)
    assert moving >= 3


def test_calibration_chain_is_the_rig():
    """``P_rect_02 @ R_rect_00 @ [R | T]`` is the 1-based intrinsics times the rig's scanner-to-camera
    transform, whatever the rectification rotation."""
    rig = sample_rig(2, 0)
    cal = calibration(rig, (48, 160))
    cam, velo = cal['calib_cam_to_cam.txt'], cal['calib_velo_to_cam.txt']
    v2c = np.eye(4)
    v2c[:3, :3], v2c[:3, 3] = velo['R'], velo['T']
    rect = np.eye(4)
    rect[:3, :3] = cam['R_rect_00']
    k1 = rig.intrinsics((48, 160))
    k1[:2, 2] += 1.0
    np.testing.assert_allclose(cam['P_rect_02'] @ rect @ v2c, k1 @ rig.velo_to_camera()[:3], atol=1e-9)
    assert cam['P_rect_02'][0, 3] == pytest.approx(k1[0, 0] * rig.baseline)
    assert k1[0, 0] == pytest.approx(160 * 721.5377 / 1242)               # KITTI's focal length per width


def test_scan_known_answer():
    """A 3-line scanner 1.5 m above the road, level, with a wall 10 m ahead: the 0 degree line hits the wall
    at forward distance 10 m, the -10 degree line hits the road at 1.5 / tan(10 deg) m ahead."""
    b = SceneBuilder().begin(z=10.0)
    b.box((-3.0, 0.0, 0.0), (3.0, 5.0, 1.0), 2, Material.FACADE)
    prims = b.build()
    scan = LidarScan(lines=3, elevation=(-10.0, 0.0), azimuth_step=5.0, azimuth_half=10.0)
    body = MovingCamera(height=1.5, pitch=0.0, heading=0.0, x=0.0, fx=1.0, fy=1.0, u0=0.0, v0=0.0, z=0.0)
    hits = cast_scan(scan, prims, body)
    line, col = hits.ray // 5, hits.ray % 5
    azim = np.deg2rad((col - 2) * 5.0)
    top = line == 0
    assert top.sum() == 5 and (hits.prim[top] == 0).all()
    np.testing.assert_allclose(hits.points[top, 0], 10.0, rtol=1e-5)
    np.testing.assert_allclose(hits.points[top, 1], -10.0 * np.tan(azim[top]), atol=1e-4)   # y left
    np.testing.assert_allclose(hits.points[top, 2], 0.0, atol=1e-5)
    low = line == 2
    forward = 1.5 / np.tan(np.deg2rad(10.0))
    np.testing.assert_allclose(hits.points[low, 0], forward * np.cos(azim[low]), rtol=1e-5)
    np.testing.assert_allclose(hits.points[low, 2], -1.5, rtol=1e-5)
    # the same scanner moved 4 m along the street sees the wall 4 m closer
    moved = cast_scan(scan, prims, dataclasses.replace(body, z=4.0))
    np.testing.assert_allclose(moved.points[moved.ray // 5 == 0, 0], 6.0, rtol=1e-5)


def test_snapped_shadows_do_not_depend_on_the_view():
    """With ``snap`` the shadow at a ground point is the same whichever other points are looked up (the map
    sits on a fixed lattice), so static shadows stay put between frames."""
    b = SceneBuilder().begin(z=8.0)
    b.box((-1.0, 0.0, -1.0), (1.0, 3.0, 1.0), 2, Material.FACADE)
    prims = b.build()
    sun = np.array([0.3, 0.8, -0.5], np.float32)
    sun /= np.linalg.norm(sun)
    rng = np.random.default_rng(0)
    pts = np.stack([rng.uniform(-3, 3, 500), np.zeros(500), rng.uniform(7, 13, 500)]).astype(np.float32)
    extra = np.array([[-7.37], [0.0], [2.61]], np.float32)         # widens the map by a non-cell offset
    alone = ground_shadow(prims, sun, pts, snap=True)
    wider = ground_shadow(prims, sun, np.hstack([pts, extra]), snap=True)[:500]
    np.testing.assert_array_equal(alone, wider)
    assert 0.05 < (alone > 0.5).mean() < 0.9
    unsnapped = ground_shadow(prims, sun, np.hstack([pts, extra]), snap=False)[:500]
    assert not np.array_equal(unsnapped, alone)                           # what snapping fixes


def test_rig_defaults_and_camera_z():
    cam = MovingCamera(height=1.5, pitch=0.0, heading=0.0, x=1.0, fx=1.0, fy=1.0, u0=0.0, v0=0.0, z=7.0)
    np.testing.assert_array_equal(cam.origin, [1.0, 1.5, 7.0])
    assert isinstance(cam, Camera)
    t = Rig(pitch=0.0).velo_to_camera()
    # level rig: velodyne forward = camera z, left = -x, up = -y; scanner 0.27 m behind, 0.08 m above
    np.testing.assert_allclose(t[:3, :3], [[0, -1, 0], [0, 0, -1], [1, 0, 0]], atol=1e-12)
    np.testing.assert_allclose(t[:3, 3], [0.06, -0.08, -0.27], atol=1e-12)


def test_cli(tmp_path, monkeypatch, capsys):
    out = str(tmp_path / 'cli')
    monkeypatch.setattr(sys, 'argv', ['synthdrive_seq.py', '--out', out, '--num-sequences', '1', '--frames',
                                      '3', '--size', '24', '80', '--num-val', '0', '--num-test', '0'])
    runpy.run_path('tools/dataset_converters/synthdrive_seq.py', run_name='__main__')
    assert 'frames/s' in capsys.readouterr().out
    assert len(open(osp.join(out, 'splits/synthdrive/train_files.txt')).read().splitlines()) == 1


def test_scan_culling_matches_brute_force():
    """Culling through the virtual pinhole drops no hit: every ray tested against every primitive gives the
    same ranges and primitives (seeded scenes, moved scanner)."""
    scan = LidarScan(lines=8, azimuth_step=1.5)
    for seed in (0, 4):
        world = sample_sequence(seed, 5, sample_rig(0, 0))
        prims, body = world.prims_at(4), world.scanner(4)
        hits = cast_scan(scan, prims, body)
        elev, azim = scan.angles()
        d = np.stack([np.cos(elev)[:, None] * np.sin(azim), np.broadcast_to(-np.sin(elev)[:, None],
                      (len(elev), len(azim))), np.cos(elev)[:, None] * np.cos(azim)]).reshape(3, -1)
        rays = body.axes().T @ d                                             # street frame, unit
        best = np.where(rays[1] < 0, -body.origin[1] / rays[1], np.inf)
        prim = np.where(np.isfinite(best), GROUND_ID, -2)
        for i in range(len(prims)):                                          # every ray x every primitive
            c, s = np.cos(prims.yaw[i]), np.sin(prims.yaw[i])
            rel = body.origin - prims.centre[i]
            o = (c * rel[0] - s * rel[2], rel[1], s * rel[0] + c * rel[2])
            dl = (c * rays[0] - s * rays[2], rays[1], s * rays[0] + c * rays[2])
            kernel = {BOX: intersect_boxes, CYLINDER: intersect_cylinders}.get(prims.kind[i],
                                                                              intersect_ellipsoids)
            t = kernel(tuple(np.full(rays.shape[1], v, np.float32) for v in o),
                       tuple(a.astype(np.float32) for a in dl),
                       tuple(np.full(rays.shape[1], v, np.float32) for v in prims.half[i]))
            win = t < best
            best, prim = np.where(win, t, best), np.where(win, i, prim)
        keep = np.flatnonzero(best <= scan.max_range)
        np.testing.assert_array_equal(hits.ray, keep)
        np.testing.assert_allclose(np.linalg.norm(hits.points, axis=1), best[keep], rtol=1e-4)
        np.testing.assert_array_equal(hits.prim, prim[keep])
