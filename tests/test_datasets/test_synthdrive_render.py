"""SynthDrive renderer: determinism, style invariance, exact geometry, Cityscapes layout and encodings."""
import hashlib
import json
import os
import os.path as osp
import runpy
import sys

import cv2
import numpy as np
import pytest

from jdbench.datasets.synthdrive import (CITYSCAPES_CLASSES, STYLES, SYNTHDRIVE_CLASSES_PRESENT,
                                         decode_disparity, encode_disparity, generate_synthdrive,
                                         render_sample, sample_seed, sample_stem)
from jdbench.datasets.synthdrive.camera import CameraPose
from jdbench.datasets.synthdrive.raycast import (GROUND_ID, SKY_ID, cast, intersect_boxes,
                                                 intersect_cylinders, intersect_ellipsoids)
from jdbench.datasets.synthdrive.scene import Material, SceneBuilder

SMALL = (32, 64)
MEDIUM = (64, 128)
ROAD, SKY = 0, 10


def _digest(root):
    """sha256 of every file under ``root``, keyed by relative path."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def _ray(o, d):
    return tuple(np.array([v], np.float32) for v in o), tuple(np.array([v], np.float32) for v in d)


@pytest.mark.parametrize('kernel,origin,direction,half,expected', [
    (intersect_boxes, (0, 0, -5), (0, 0, 1), (1, 1, 1), 4.0),
    (intersect_boxes, (0.5, 3, -5), (0, 0, 1), (1, 1, 1), np.inf),          # passes above
    (intersect_boxes, (-4, 0.5, 0), (1, 0, 0), (2, 1, 3), 2.0),
    (intersect_cylinders, (0, 0, -5), (0, 0, 1), (1, 1, 1), 4.0),           # side
    (intersect_cylinders, (0.3, 5, 0), (0, -1, 0), (1, 2, 1), 3.0),         # top cap
    (intersect_cylinders, (1.5, 0, -5), (0, 0, 1), (1, 1, 1), np.inf),
    (intersect_ellipsoids, (-5, 0, 0), (1, 0, 0), (2, 1, 1), 3.0),
    (intersect_ellipsoids, (0, 0, -5), (0, 0, 2), (1, 1, 2), 1.5),          # t in units of the direction
    (intersect_ellipsoids, (0, 1.5, -5), (0, 0, 1), (1, 1, 1), np.inf),
    (intersect_boxes, (0, 0, 0), (0, 0, 1), (1, 1, 1), np.inf),             # starts inside: not rendered
])
def test_intersection_kernels(kernel, origin, direction, half, expected):
    o, d = _ray(origin, direction)
    h = tuple(np.array([v], np.float32) for v in half)
    np.testing.assert_allclose(kernel(o, d, h), [expected], rtol=1e-6)


@pytest.mark.parametrize('shape,expected', [
    ('cylinder', 9.5),                  # radius 0.5: the object's yaw must not matter
    ('box', 10.0 - np.sqrt(2.0)),       # unit half cube turned by 45 degrees: an edge faces the camera
    ('ellipsoid', 8.0),                 # radii (2, 1, 0.5) turned by 90 degrees: 2 m along the view
])
def test_cast_turned_objects(shape, expected):
    """The optical-axis pixel of a 17 x 33 image sees a turned object 10 m ahead at the known depth."""
    b = SceneBuilder().begin(x=0.0, z=10.0, yaw=np.pi / 4 if shape == 'box' else np.pi / 2)
    if shape == 'cylinder':
        b.cylinder(0.0, 0.0, 0.0, 3.0, 0.5, 5, Material.METAL)
    elif shape == 'box':
        b.box((-1, 0, -1), (1, 2, 1), 2, Material.FACADE)
    else:
        b.ellipsoid((0.0, 1.0, 0.0), (2.0, 1.0, 0.5), 8, Material.FOLIAGE)
    camera = CameraPose(height=1.0, pitch=0.0, heading=0.0, x=0.0).camera((17, 33))
    hits = cast(camera, b.build(), (17, 33))
    centre = 8 * 33 + 16
    assert hits.prim[centre] == 0
    assert hits.depth[centre] == pytest.approx(expected, rel=1e-5)
    assert hits.prim[0] == SKY_ID and hits.prim[-1] == GROUND_ID


def test_render_sample_contract():
    out = render_sample(7, SMALL)
    assert out['img'].shape == (*SMALL, 3) and out['img'].dtype == np.uint8
    assert out['label'].shape == SMALL and out['label'].dtype == np.uint8
    assert out['depth'].shape == SMALL and out['depth'].dtype == np.float32
    assert set(np.unique(out['label'])) <= set(SYNTHDRIVE_CLASSES_PRESENT) | {255}
    cam = out['camera']
    assert set(cam) == {'extrinsic', 'intrinsic'}
    assert set(cam['extrinsic']) == {'baseline', 'pitch', 'roll', 'yaw', 'x', 'y', 'z'}
    assert set(cam['intrinsic']) == {'fx', 'fy', 'u0', 'v0'}
    assert cam['intrinsic']['u0'] == (SMALL[1] - 1) / 2 and cam['intrinsic']['v0'] == (SMALL[0] - 1) / 2


def test_render_is_deterministic():
    a, b, c = render_sample(11, SMALL), render_sample(11, SMALL), render_sample(12, SMALL)
    for key in ('img', 'label', 'depth'):
        assert np.array_equal(a[key], b[key])
    assert a['camera'] == b['camera']
    assert not np.array_equal(a['depth'], c['depth'])
    assert not np.array_equal(a['img'], c['img'])


def test_style_changes_appearance_not_geometry():
    assert {'day', 'dusk', 'fog'} <= set(STYLES)
    renders = {style: render_sample(5, SMALL, style) for style in STYLES}
    day = renders['day']
    for style, out in renders.items():
        assert np.array_equal(out['label'], day['label']), style
        assert np.array_equal(out['depth'], day['depth']), style
        assert out['camera'] == day['camera'], style
        if style != 'day':
            diff = np.abs(out['img'].astype(int) - day['img'].astype(int)).mean()
            assert diff > 5.0, (style, diff)
    with pytest.raises(KeyError):
        render_sample(5, SMALL, 'no-such-style')


@pytest.mark.parametrize('seed', [0, 3, 42])
def test_road_depth_is_the_ground_plane(seed):
    """Road pixels lie on Y = 0: z-depth = z / ((v - v0) / fy * cos(pitch) + sin(pitch)) from camera.json."""
    out = render_sample(seed, MEDIUM)
    ext, intr = out['camera']['extrinsic'], out['camera']['intrinsic']
    rows, _ = np.nonzero(out['label'] == ROAD)
    assert len(rows) > 500
    b = (rows - intr['v0']) / intr['fy']
    expected = ext['z'] / (b * np.cos(ext['pitch']) + np.sin(ext['pitch']))
    np.testing.assert_allclose(out['depth'][out['label'] == ROAD], expected, rtol=2e-5)


def test_sky_has_no_depth_and_depth_range_is_realistic():
    depths, sky_pixels = [], 0
    for seed in range(4):
        out = render_sample(seed, MEDIUM)
        sky = out['label'] == SKY
        sky_pixels += sky.sum()
        assert np.array_equal(out['depth'] == 0, sky), seed          # depth 0 exactly where the sky is
        depths.append(out['depth'][~sky])
    depths = np.concatenate(depths)
    assert sky_pixels > 100
    assert depths.min() < 8.0 and 60.0 < depths.max() < 130.0


def test_class_content():
    seen = set()
    for seed in range(6):
        label = render_sample(seed, MEDIUM)['label']
        assert (label == ROAD).mean() > 0.1, seed
        seen |= set(np.unique(label).tolist())
    assert {0, 1, 2, 5, 7, 10, 13} <= seen
    assert len(seen - {255}) >= 12, sorted(seen)


def test_disparity_encoding_known_values():
    depth = np.array([[0.0, 10.0, 1e-4, 100.0]], np.float32)
    p = encode_disparity(depth, baseline=0.2, fx=100.0)
    assert p.dtype == np.uint16
    assert p.tolist() == [[0, 513, 65535, 52]]                # 2 px * 256 + 1; clipped; round(51.2) + 1
    back = decode_disparity(p, baseline=0.2, fx=100.0)
    assert back[0, 0] == 0 and back[0, 1] == pytest.approx(10.0)


def test_names_and_seeds():
    assert sample_stem('train', 0) == ('synth_a', 'synth_a_000000_000019')
    assert sample_stem('train', 3) == ('synth_b', 'synth_b_000001_000019')
    assert sample_stem('val', 2) == ('synth_v', 'synth_v_000002_000019')
    seeds = {sample_seed(0, 'train', 0), sample_seed(0, 'train', 1), sample_seed(0, 'val', 0),
             sample_seed(1, 'train', 0)}
    assert len(seeds) == 4
    assert sample_seed(0, 'train', 1) == sample_seed(0, 'train', 1)


def test_generate_layout_contents_and_determinism(tmp_path):
    a, b, c, d = (str(tmp_path / n) for n in 'abcd')
    summary = generate_synthdrive(a, 3, 2, size=SMALL, seed=5, style='dusk')
    assert summary['num_images'] == 5 and summary['images_per_s'] > 0
    stems = {'train': ['synth_a_000000_000019', 'synth_b_000000_000019', 'synth_a_000001_000019'],
             'val': ['synth_v_000000_000019', 'synth_v_000001_000019']}
    expected = {'synthdrive_meta.json'}
    for split, names in stems.items():
        for stem in names:
            city = stem[:7]
            expected |= {f'leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png',
                         f'gtFine/{split}/{city}/{stem}_gtFine_labelTrainIds.png',
                         f'disparity/{split}/{city}/{stem}_disparity.png',
                         f'camera/{split}/{city}/{stem}_camera.json'}
    digest = _digest(a)
    assert set(digest) == expected

    meta = json.load(open(osp.join(a, 'synthdrive_meta.json')))
    args = (meta['seed'], meta['size'], meta['style'], meta['num_train'], meta['num_val'])
    assert args == (5, [32, 64], 'dusk', 3, 2)
    assert meta['classes'] == list(CITYSCAPES_CLASSES)
    assert meta['classes_present'] == list(SYNTHDRIVE_CLASSES_PRESENT)

    # the files hold exactly what render_sample gives for (seed, split, index)
    ref = render_sample(sample_seed(5, 'val', 1), SMALL, 'dusk')
    base = osp.join(a, '{}', 'val', 'synth_v', 'synth_v_000001_000019_{}')
    img = cv2.imread(base.format('leftImg8bit', 'leftImg8bit.png'), cv2.IMREAD_UNCHANGED)
    label = cv2.imread(base.format('gtFine', 'gtFine_labelTrainIds.png'), cv2.IMREAD_UNCHANGED)
    disp = cv2.imread(base.format('disparity', 'disparity.png'), cv2.IMREAD_UNCHANGED)
    camera = json.load(open(base.format('camera', 'camera.json')))
    assert np.array_equal(img[..., ::-1], ref['img'])
    assert np.array_equal(label, ref['label'])
    assert camera == ref['camera']
    assert disp.dtype == np.uint16
    baseline, fx = camera['extrinsic']['baseline'], camera['intrinsic']['fx']
    depth = baseline * fx / ((disp.astype(np.float64) - 1) / 256.0)
    valid = ref['depth'] > 0
    assert np.array_equal(disp > 0, valid)
    true = ref['depth'][valid].astype(np.float64)
    tolerance = true ** 2 / (baseline * fx) * (0.5 / 256) * 1.01 + 1e-6       # half a quantisation step
    assert np.all(np.abs(depth[valid] - true) <= tolerance)

    generate_synthdrive(b, 3, 2, size=SMALL, seed=5, style='dusk')
    assert _digest(b) == digest                                                 # same bytes
    generate_synthdrive(c, 4, 2, size=SMALL, seed=5, style='dusk')
    grown = _digest(c)
    assert all(grown[k] == v for k, v in digest.items() if k != 'synthdrive_meta.json')   # earlier ones kept
    generate_synthdrive(d, 3, 2, size=SMALL, seed=6, style='dusk')
    other = _digest(d)
    assert all(other[k] != v for k, v in digest.items() if k.endswith('.png'))


def test_cli(tmp_path, monkeypatch, capsys):
    script = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'dataset_converters', 'synthdrive.py')
    argv = ['synthdrive.py', '--out', str(tmp_path), '--num-train', '2', '--num-val', '1',
            '--size', '32', '64', '--seed', '3', '--style', 'fog']
    monkeypatch.setattr(sys, 'argv', argv)
    runpy.run_path(script, run_name='__main__')
    assert 'images/s' in capsys.readouterr().out
    meta = json.load(open(tmp_path / 'synthdrive_meta.json'))
    args = (meta['num_train'], meta['num_val'], meta['size'], meta['seed'], meta['style'])
    assert args == (2, 1, [32, 64], 3, 'fog')
    assert osp.isfile(tmp_path / 'gtFine/val/synth_v/synth_v_000000_000019_gtFine_labelTrainIds.png')
