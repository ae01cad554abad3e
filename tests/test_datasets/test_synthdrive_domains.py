"""SynthDrive domains: the GTA5-layout writer, the city knob (geometry and content shift), the day -> fog
config, and a MultiStreamDataset of a GTA5-layout source and a Cityscapes-layout target."""
import hashlib
import json
import os
import os.path as osp
import runpy
import sys
import zlib

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from jdbench.datasets import CityscapesJointDataset, MultiStreamDataset, SynthDriveDataset
from jdbench.datasets.gta5 import GTA5Dataset, SynthDriveGTA5Dataset
from jdbench.datasets.synthdrive import CITIES, generate_synthdrive, render_sample, sample_paths, sample_seed
from jdbench.datasets.synthdrive.cities import City, city_stream_tags
from jdbench.datasets.synthdrive.world import sample_scene
from jdbench.registry import DATASETS

REPO = osp.join(osp.dirname(__file__), '..', '..')
SMALL = (32, 64)
GTA5_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadGTA5Annotations')]
CS_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadJointAnnotations')]
CAR, TRUCK, BUS, PERSON = 13, 14, 15, 11


def _digest(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            with open(osp.join(dirpath, name), 'rb') as f:
                out[osp.relpath(osp.join(dirpath, name), root)] = hashlib.sha256(f.read()).hexdigest()
    return out


# ------------------------------------------------------------------------------------------ GTA5 layout
def test_gta5_layout_reads_back_as_the_cityscapes_layout(tmp_path):
    cs, gta = str(tmp_path / 'cs'), str(tmp_path / 'gta')
    generate_synthdrive(cs, 3, 2, size=SMALL, seed=5, style='day')
    summary = generate_synthdrive(gta, 3, 2, size=SMALL, seed=5, style='day', layout='gta5')
    assert summary['layout'] == 'gta5' and summary['num_images'] == 5
    files = set(_digest(gta))
    assert files == {f'{d}/{i:05d}.png' for d in ('images', 'labels') for i in range(1, 6)} | {
        'train.txt', 'val.txt', 'synthdrive_meta.json'}
    assert open(osp.join(gta, 'train.txt')).read() == '00001.png\n00002.png\n00003.png\n'
    assert open(osp.join(gta, 'val.txt')).read() == '00004.png\n00005.png\n'
    meta = json.load(open(osp.join(gta, 'synthdrive_meta.json')))
    assert (meta['layout'], meta['city'], meta['seed'], meta['size']) == ('gta5', 'A', 5, [32, 64])

    for split, n in (('train', 3), ('val', 2)):
        g = GTA5Dataset(data_root=gta, split_file=f'{split}.txt', pipeline=GTA5_PIPELINE)
        c = CityscapesJointDataset(data_root=cs, split=split, pipeline=CS_PIPELINE)
        assert len(g) == len(c) == n and g.missing_pairs == [] and g.train_id_suspects == []
        by_path = {c.get_data_info(k)['img_path']: k for k in range(n)}
        for i in range(n):     # image i of the split: GTA5 name f'{offset + i + 1:05d}.png', Cityscapes stem
            a, b = g[i], c[by_path[sample_paths(cs, split, i)['img']]]
            assert osp.basename(a['img_path']) == f'{i + 1 + (3 if split == "val" else 0):05d}.png'
            assert np.array_equal(a['gt_seg_map'], b['gt_seg_map'])     # same train IDs
            assert np.array_equal(a['img'], b['img'])
            assert 'gt_depth_map' not in a                                # segmentation only

    # the label PNGs hold Cityscapes label IDs in a palette PNG, like the real release
    raw = Image.open(osp.join(gta, 'labels', '00004.png'))
    ref = render_sample(sample_seed(5, 'val', 0), SMALL, 'day')['label']
    ids = np.array(raw)
    assert raw.mode == 'P' and raw.getpalette()[3 * 26:3 * 27] == [0, 0, 142]      # car's Cityscapes colour
    for train_id, label_id in ((0, 7), (2, 11), (10, 23), (13, 26), (255, 0)):
        assert np.all(ids[ref == train_id] == label_id)
    assert ids.max() > 18

    again = str(tmp_path / 'again')
    generate_synthdrive(again, 3, 2, size=SMALL, seed=5, style='day', layout='gta5')
    assert _digest(again) == _digest(gta)                                   # deterministic, byte for byte


def test_gta5_layout_renders_on_first_use(tmp_path):
    root = str(tmp_path / 'gta_day')
    gen = dict(num_train=3, num_val=2, size=SMALL, seed=5)
    train = SynthDriveGTA5Dataset(data_root=root, generate=gen, pipeline=GTA5_PIPELINE)
    val = SynthDriveGTA5Dataset(data_root=root, split='val', generate=gen, pipeline=GTA5_PIPELINE)
    assert len(train) == 3 and len(val) == 2
    assert json.load(open(osp.join(root, 'synthdrive_generate.json'))) == dict(
        num_train=3, num_val=2, size=[32, 64], seed=5, style='day', city='A', layout='gta5')
    ref = render_sample(sample_seed(5, 'val', 1), SMALL, 'day')['label']
    assert np.array_equal(val[1]['gt_seg_map'], ref)
    with pytest.raises(ValueError, match='renders the GTA5 layout'):
        SynthDriveGTA5Dataset(data_root=root, generate={**gen, 'layout': 'cityscapes'})
    with pytest.raises(FileNotFoundError, match=r'does not exist[\s\S]*synthdrive.py --layout gta5'):
        SynthDriveGTA5Dataset(data_root=str(tmp_path / 'missing'))


# ------------------------------------------------------------------------------------------ cities
def _reference_street_and_pose(seed, city, tags):
    """The first draws of the geometry stream, replayed by hand: street, then the camera pose."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0, *tags]))
    lanes = int(rng.integers(*city.lanes))
    rng.uniform(*city.lane_width)
    z_end = rng.uniform(*city.street_length)
    for _ in rng.uniform(14.0, z_end - 30.0, size=int(rng.integers(*city.side_streets))):
        rng.uniform(3.5, 6.5)
    rng.uniform(10.0, 16.0)
    rng.integers(lanes), rng.uniform(-0.35, 0.35)
    return lanes, z_end, rng.uniform(*city.camera_height), rng.uniform(*city.camera_pitch)


def test_city_profiles_known_answers():
    # city A is SynthDrive's original sampling, unchanged
    assert CITIES['A'] == City() and city_stream_tags('A') == ()
    assert (City().camera_height, City().lanes, City().max_pedestrians) == ((1.15, 1.75), (2, 5), 9)
    assert city_stream_tags('B') == (zlib.crc32(b'city/B'), )
    for name in ('A', 'B'):
        for seed in (0, 7, 123):
            scene = sample_scene(seed, name)
            tags = city_stream_tags(name)
            lanes, z_end, height, pitch = _reference_street_and_pose(seed, CITIES[name], tags)
            assert (scene.street.lanes, scene.street.z_end) == (lanes, z_end)
            assert (scene.pose.height, scene.pose.pitch) == (height, pitch)
    a0, b0 = sample_scene(0, 'A'), sample_scene(0, 'B')
    assert sample_scene(0).pose == a0.pose and len(sample_scene(0).prims) == len(a0.prims)
    assert b0.pose != a0.pose                                    # another stream: not the same scene
    with pytest.raises(KeyError, match=r"unknown SynthDrive city 'C'; choose from \['A', 'B'\]"):
        sample_scene(0, 'C')


def test_city_b_shifts_camera_height_and_object_density():
    stats = {}
    for name in ('A', 'B'):
        heights, pitches, lanes, vehicles, people, tall = [], [], [], [], [], []
        for seed in range(60):
            scene = sample_scene(seed, name)
            heights.append(scene.pose.height)
            pitches.append(scene.pose.pitch)
            lanes.append(scene.street.lanes)
            groups = scene.prims.group
            vehicles.append(len(np.unique(groups[np.isin(scene.prims.label, (CAR, TRUCK, BUS))])))
            people.append(len(np.unique(groups[scene.prims.label == PERSON])))
        stats[name] = dict(heights=np.array(heights), pitches=np.array(pitches), lanes=set(lanes),
                           vehicles=np.mean(vehicles), people=np.mean(people))
    a, b = stats['A'], stats['B']
    # camera heights in disjoint ranges: every B camera is higher than every A camera
    assert a['heights'].min() >= 1.15 and a['heights'].max() <= 1.75
    assert b['heights'].min() >= 2.0 and b['heights'].max() <= 2.6
    assert b['pitches'].min() >= 0.04 and a['pitches'].min() < 0.04
    assert a['lanes'] == {2, 3, 4} and b['lanes'] == {3, 4, 5}
    # object densities: B has well over 1.5x the vehicles and pedestrians per scene
    assert b['vehicles'] > 1.5 * a['vehicles'] and b['people'] > 1.5 * a['people']

    # the rendered camera.json reports the B height; style still changes only the image
    day, fog = render_sample(3, SMALL, 'day', 'B'), render_sample(3, SMALL, 'fog', 'B')
    assert day['camera']['extrinsic']['z'] == sample_scene(3, 'B').pose.height
    assert 2.0 <= day['camera']['extrinsic']['z'] <= 2.6
    assert np.array_equal(day['label'], fog['label']) and np.array_equal(day['depth'], fog['depth'])
    assert not np.array_equal(day['img'], fog['img'])


def test_city_is_recorded_and_default_meta_unchanged(tmp_path):
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    generate_synthdrive(a, 1, 1, size=SMALL, seed=2)
    generate_synthdrive(b, 1, 1, size=SMALL, seed=2, city='B')
    meta_a, meta_b = (json.load(open(osp.join(r, 'synthdrive_meta.json'))) for r in (a, b))
    assert 'city' not in meta_a and meta_b['city'] == 'B'
    cam = json.load(open(osp.join(b, 'camera/val/synth_v/synth_v_000000_000019_camera.json')))
    assert cam['extrinsic']['z'] == sample_scene(sample_seed(2, 'val', 0), 'B').pose.height
    with pytest.raises(ValueError, match="unknown SynthDrive layout 'kitti'"):
        generate_synthdrive(a, 1, 1, layout='kitti')


# ------------------------------------------------------------------------------------------ streams
@pytest.fixture(scope='module')
def domains(tmp_path_factory):
    root = tmp_path_factory.mktemp('domains')
    source, target = str(root / 'gta5_day'), str(root / 'fog_b')
    generate_synthdrive(source, 4, 1, size=SMALL, seed=0, style='day', layout='gta5')
    generate_synthdrive(target, 3, 1, size=SMALL, seed=1, style='fog', city='B')
    return source, target


def test_multistream_gta5_source_cityscapes_target(domains):
    source, target = domains
    ds = MultiStreamDataset(streams=dict(
        source=dict(type='GTA5Dataset', data_root=source, split_file='train.txt',
                    pipeline=[*GTA5_PIPELINE, dict(type='PackSegInputs')]),
        target=dict(type='CityscapesJointDataset', data_root=target, split='train',
                    pipeline=[*CS_PIPELINE, dict(type='PackSegInputs')])))
    assert len(ds) == 4
    item = ds[3]
    assert set(item) == {'source', 'target'}
    src, tgt = item['source']['data_samples'], item['target']['data_samples']
    assert src.img_path == osp.join(source, 'images', '00004.png')
    assert tgt.img_path.startswith(osp.join(target, 'leftImg8bit', 'train'))
    ref = render_sample(sample_seed(0, 'train', 3), SMALL, 'day')
    assert np.array_equal(src.gt_sem_seg.data.numpy()[0], ref['label'])
    assert tuple(item['source']['inputs'].shape) == tuple(item['target']['inputs'].shape) == (3, *SMALL)
    assert 'gt_depth_map' not in src and 'gt_depth_map' in tgt           # depth only where the data has it
    assert ds.metainfo['classes'] == ds.streams['target'].metainfo['classes']


def test_bad_target_gives_clear_errors(domains, tmp_path):
    source, target = domains
    src = dict(type='GTA5Dataset', data_root=source, split_file='train.txt')
    with pytest.raises(ValueError, match=r"streams 'source' and 'target' have different classes \(19: "
                                         r"\('road', 'sidewalk', 'building', 'wall'\)\.\.\. vs 7: \('flat', "
                                         r"[\s\S]*set check_classes=False"):
        MultiStreamDataset(streams=dict(
            source=src, target=dict(type='CityscapesJointDataset', data_root=target, label_set='category')))
    missing = str(tmp_path / 'no_cityscapes')
    with pytest.raises(FileNotFoundError, match=rf'data root {missing} does not exist[\s\S]*leftImg8bit'
                                                r'[\s\S]*cityscapes-dataset.com'):
        MultiStreamDataset(streams=dict(source=src, target=dict(type='CityscapesJointDataset',
                                                                data_root=missing)))


def test_day2fog_config(tmp_path):
    cfg = Config.fromfile(osp.join(REPO, 'configs', '_base_', 'datasets', 'synthdrive_day2fog.py'))
    streams = cfg.train_dataloader.dataset.streams
    assert cfg.train_dataloader.dataset.type == 'MultiStreamDataset'
    assert (streams.source.type, streams.source.generate.style, streams.source.generate.city) == (
        'SynthDriveGTA5Dataset', 'day', 'A')
    assert (streams.target.type, streams.target.generate.style, streams.target.generate.city) == (
        'SynthDriveDataset', 'fog', 'B')
    assert streams.source.generate.seed != streams.target.generate.seed
    assert cfg.val_dataloader.dataset.data_root == streams.target.data_root == cfg.target_root
    assert cfg.val_dataloader.dataset.split == 'val' and cfg.test_dataloader == cfg.val_dataloader
    assert cfg.source_val_dataloader.dataset.split == 'val'
    assert cfg.source_val_dataloader.dataset.data_root == streams.source.data_root
    # nothing in the target's training pipeline reads its labels
    crop, = [t for t in streams.target.pipeline if t['type'] == 'RandomCrop']
    assert crop['cat_max_ratio'] == 1.0

    small = dict(num_train=3, num_val=2, size=SMALL)
    datasets = (streams.source, streams.target, cfg.val_dataloader.dataset, cfg.source_val_dataloader.dataset)
    for loader in datasets:
        loader.data_root = str(tmp_path / osp.basename(loader.data_root))
        loader.generate.update(small)
    train = DATASETS.build(cfg.train_dataloader.dataset)
    val = DATASETS.build(cfg.val_dataloader.dataset)
    source_val = DATASETS.build(cfg.source_val_dataloader.dataset)
    assert len(train) == 3 and len(val) == 2 and len(source_val) == 2
    assert isinstance(val, SynthDriveDataset) and isinstance(source_val, SynthDriveGTA5Dataset)
    item = train[0]
    assert set(item) == {'source', 'target'} and 'gt_sem_seg' in item['source']['data_samples']
    target_meta = json.load(open(osp.join(val.data_root, 'synthdrive_meta.json')))
    assert (target_meta['style'], target_meta['city']) == ('fog', 'B')
    assert val[0]['data_samples'].gt_depth_map.data.shape[-2:] == SMALL


def test_cli_layout_and_city(tmp_path, monkeypatch, capsys):
    script = osp.join(REPO, 'tools', 'dataset_converters', 'synthdrive.py')
    argv = ['synthdrive.py', '--out', str(tmp_path), '--num-train', '2', '--num-val', '1', '--size', '32',
            '64', '--layout', 'gta5', '--city', 'B']
    monkeypatch.setattr(sys, 'argv', argv)
    runpy.run_path(script, run_name='__main__')
    assert 'images/s' in capsys.readouterr().out
    meta = json.load(open(tmp_path / 'synthdrive_meta.json'))
    assert (meta['layout'], meta['city'], meta['num_train'], meta['num_val']) == ('gta5', 'B', 2, 1)
    ids = np.array(Image.open(tmp_path / 'labels' / '00003.png'))
    ref = render_sample(sample_seed(0, 'val', 0), SMALL, 'day', 'B')['label']
    assert np.array_equal(ids == 26, ref == CAR)
