"""SynthDriveSeqDataset: SynthDrive sequences rendered on first use, then read by the KITTI raw loader."""
import glob
import hashlib
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.logging import MMLogger

from jdbench.datasets import KITTIRawDataset, SynthDriveSeqDataset
from jdbench.datasets.synthdrive import render_sequences
from jdbench.datasets.synthdrive.kitti_writer import drive_seed
from jdbench.datasets.synthdrive.sequence import render_sequence, sample_rig
from jdbench.datasets.synthdrive_seq_dataset import GENERATE_RECORD, SEQ_META_FILE
from jdbench.registry import DATASETS

SIZE = (32, 96)
GEN = dict(num_sequences=3, num_frames=4, size=SIZE, seed=3, num_val=0, num_test=1)
PIPELINE = [dict(type='LoadSequenceFromFile'), dict(type='PackSequenceInputs')]


def _digest(root):
    out = {}
    for path in sorted(glob.glob(osp.join(root, '**', '*'), recursive=True)):
        if osp.isfile(path) and osp.basename(path) != GENERATE_RECORD:
            with open(path, 'rb') as f:
                out[osp.relpath(path, root)] = hashlib.sha1(f.read()).hexdigest()
    return out


class _Log:
    """Stands in for the current MMLogger: records what the dataset says."""

    def __init__(self):
        self.lines = []

    def info(self, msg):
        self.lines.append(('info', msg))

    def warning(self, msg):
        self.lines.append(('warning', msg))

    def log(self, level, msg):
        self.lines.append(('warning' if level >= 30 else 'info', msg))


@pytest.fixture
def log(monkeypatch):
    rec = _Log()
    monkeypatch.setattr(MMLogger, 'get_current_instance', classmethod(lambda cls: rec))
    return rec


@pytest.fixture(scope='module')
def rendered(tmp_path_factory):
    """The dataset built once on a missing folder (it renders), and a plain render of the same arguments."""
    tmp = tmp_path_factory.mktemp('seqds')
    root = str(tmp / 'seq')
    ds = DATASETS.build(dict(type='SynthDriveSeqDataset', data_root=root, generate=GEN, pipeline=PIPELINE))
    ref = str(tmp / 'ref')
    render_sequences(ref, **GEN)
    return root, ds, ref


def test_renders_on_first_use_with_render_sequences(rendered):
    root, ds, ref = rendered
    assert isinstance(ds, SynthDriveSeqDataset) and isinstance(ds, KITTIRawDataset)
    assert osp.isfile(osp.join(root, SEQ_META_FILE)) and osp.isfile(osp.join(root, GENERATE_RECORD))
    # byte-identical to render_sequences with the same arguments (the meta file names its own folder only)
    got, want = _digest(root), _digest(ref)
    assert got.keys() == want.keys()
    assert all(got[k] == want[k] for k in got if k != SEQ_META_FILE)
    # no temporary folder or lock left behind but the lock file
    assert [p for p in os.listdir(osp.dirname(root)) if p.startswith('.seq.tmp-')] == []


def test_items_are_the_kitti_loaders(rendered):
    """Two train drives of 4 frames: frames 1 and 2 of each make (-1, 0, +1) triplets; the items are exactly
    what KITTIRawDataset reads from the same folder."""
    root, ds, _ = rendered
    assert len(ds) == 4
    plain = KITTIRawDataset(data_root=root, split_file='splits/synthdrive/train_files.txt', pipeline=PIPELINE)
    for i in range(len(ds)):
        a, b = ds.get_data_info(i), plain.get_data_info(i)
        assert a.keys() == b.keys()
        for key in a:
            if key == 'sample_idx':
                continue
            np.testing.assert_array_equal(np.asarray(a[key], dtype=object), np.asarray(b[key], dtype=object))
    first = ds.get_data_info(0)
    assert first['folder'] == '2026_01_01/2026_01_01_drive_0001_sync' and first['frame_index'] == 1
    assert [osp.basename(p) for p in first['img_paths']] == ['0000000001.png', '0000000000.png',
                                                             '0000000002.png']
    item = ds[0]
    assert tuple(item['inputs'].shape) == (9, *SIZE) and item['data_samples'].metainfo['frame_ids'] == (0, -1, 1)


def test_test_split_reads_the_dense_depth(rendered):
    """Every frame of the test drive (drive 3) with its annotated depth, equal to the renderer's depth up to
    the PNG's 1/256 m quantisation."""
    root, _, _ = rendered
    test = SynthDriveSeqDataset(data_root=root, split_file='splits/synthdrive/test_files.txt', generate=GEN,
                                frame_ids=(0, ), gt='annotated', test_mode=True, pipeline=PIPELINE)
    assert len(test) == GEN['num_frames']
    frames = list(render_sequence(drive_seed(GEN['seed'], 2), GEN['num_frames'], SIZE, 'day',
                                  sample_rig(GEN['seed'], 0)))
    for i in (0, 3):
        gt = test[i]['data_samples'].gt_depth_map.data[0].numpy()
        depth = frames[i]['depth']
        assert gt.shape == SIZE and ((gt > 0) == (depth > 0)).all()
        assert np.abs(gt - depth).max() <= 0.5 / 256 + 1e-3


def test_existing_data_are_reused_and_other_arguments_warned(rendered, log):
    root, _, _ = rendered
    before = _digest(root)
    SynthDriveSeqDataset(data_root=root, generate=GEN, pipeline=PIPELINE)
    assert not [m for kind, m in log.lines if kind == 'warning'] and _digest(root) == before
    SynthDriveSeqDataset(data_root=root, generate=dict(GEN, seed=4), pipeline=PIPELINE)
    warnings = [m for kind, m in log.lines if kind == 'warning']
    assert len(warnings) == 1 and "'seed': 4" in warnings[0] and 'using the existing data' in warnings[0]
    assert _digest(root) == before


def test_bad_generate_arguments():
    with pytest.raises(ValueError, match=r"generate needs \['num_frames'\]"):
        SynthDriveSeqDataset(data_root='x', generate=dict(num_sequences=3))
    with pytest.raises(ValueError, match='at least 3 frames'):
        SynthDriveSeqDataset(data_root='x', generate=dict(num_sequences=3, num_frames=2))
    with pytest.raises(ValueError, match=r"unknown generate key\(s\) \['frames'\]"):
        SynthDriveSeqDataset(data_root='x', generate=dict(num_sequences=3, num_frames=4, frames=5))


def test_missing_incomplete_or_mismatched_data(tmp_path, rendered):
    with pytest.raises(FileNotFoundError, match='synthdrive_seq.py'):
        SynthDriveSeqDataset(data_root=str(tmp_path / 'none'))
    partial = tmp_path / 'partial'
    (partial / '2026_01_01').mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=f'holds no {SEQ_META_FILE}.*delete the folder'):
        SynthDriveSeqDataset(data_root=str(partial), generate=GEN)
    root, _, _ = rendered
    with pytest.raises(FileNotFoundError, match=r'splits/synthdrive/\{train,val,test\}_files.txt'):
        SynthDriveSeqDataset(data_root=root, generate=GEN, split_file='splits/eigen_zhou/train_files.txt')


def test_a_failed_rendering_leaves_nothing(tmp_path, monkeypatch):
    import jdbench.datasets.synthdrive as synthdrive

    def boom(*args, **kwargs):
        os.makedirs(osp.join(args[0], '2026_01_01'))
        raise RuntimeError('disk full')

    monkeypatch.setattr(synthdrive, 'render_sequences', boom)
    root = tmp_path / 'seq'
    with pytest.raises(RuntimeError, match='disk full'):
        SynthDriveSeqDataset(data_root=str(root), generate=GEN)
    assert not root.exists() and [p.name for p in tmp_path.iterdir()] == ['seq.lock']
