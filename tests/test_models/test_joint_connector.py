"""JointDistillConnector: ground-truth losses at the input's resolution (default) or at the fused one."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from jdbench.models.connectors.joint_connector import downsample_gt
from jdbench.registry import MODELS


def _connector(**kw):
    torch.manual_seed(0)
    head = dict(in_channels=8, channels=8, num_convs=0, in_index=0, dropout_ratio=0.0)
    return MODELS.build(dict(
        type='JointDistillConnector', in_channels=dict(seg=4, depth=4), channels=8, **kw,
        heads=dict(seg=dict(type='ConnectorSegHead', num_classes=5, ignore_index=255, concat_input=False,
                            loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True), **head),
                   depth=dict(type='DepthHead', max_depth=80.0, **head))))


def _samples(n=2, size=(16, 24)):
    gen = torch.Generator().manual_seed(1)
    out = []
    for _ in range(n):
        label = torch.randint(0, 5, (1, *size), generator=gen)
        label[:, :3] = 255
        depth = torch.rand(1, *size, generator=gen) * 50 + 1
        depth[:, :, :5] = 0  # invalid columns
        out.append(SegDataSample(gt_sem_seg=PixelData(data=label), gt_depth_map=PixelData(data=depth)))
    return out


def test_downsample_gt_picks_pixels_by_nearest():
    samples = _samples()
    small = downsample_gt(samples, (4, 6))  # stride 4: pixel (4i, 4j)
    for big, low in zip(samples, small):
        assert torch.equal(low.gt_sem_seg.data, big.gt_sem_seg.data[:, ::4, ::4])
        assert low.gt_sem_seg.data.dtype == big.gt_sem_seg.data.dtype
        assert torch.equal(low.gt_depth_map.data, big.gt_depth_map.data[:, ::4, ::4])
        assert (low.gt_depth_map.data[:, :, :1] == 0).all()  # invalid stays invalid
    assert samples[0].gt_sem_seg.data.shape[-2:] == (16, 24)  # the inputs are untouched


def test_fused_losses_are_the_heads_losses_on_the_downsampled_truth():
    conn = _connector(loss_size='fused')
    feats = dict(seg=torch.randn(2, 4, 4, 6), depth=torch.randn(2, 4, 4, 6))
    out = conn(feats, (4, 6))
    losses = conn.loss(out, _samples())
    labels = torch.cat([s.gt_sem_seg.data[:, ::4, ::4] for s in _samples()])
    valid = labels != 255
    ce = F.cross_entropy(out['seg'], labels, ignore_index=255, reduction='sum') / valid.sum()
    torch.testing.assert_close(losses['conn.seg.loss_ce'], ce)
    ref = conn.heads['depth'].loss_by_feat(out['depth'], downsample_gt(_samples(), (4, 6)))
    for key, value in ref.items():
        torch.testing.assert_close(losses[f'conn.depth.{key}'], value)


def test_input_resolution_is_the_default_and_differs_from_fused():
    feats = dict(seg=torch.randn(2, 4, 4, 6), depth=torch.randn(2, 4, 4, 6))
    full, fused = _connector(), _connector(loss_size='fused')
    assert full.loss_size == 'input'
    out = full(feats, (4, 6))
    got = full.loss(out, _samples())
    ref = full.heads['seg'].loss_by_feat(out['seg'], _samples())  # upsampled to the 16x24 labels
    assert torch.equal(got['conn.seg.loss_ce'], ref['loss_ce'])
    assert not torch.equal(got['conn.seg.loss_ce'], fused.loss(fused(feats, (4, 6)), _samples())['conn.seg.loss_ce'])


def test_loss_size_per_task():
    feats = dict(seg=torch.randn(2, 4, 4, 6), depth=torch.randn(2, 4, 4, 6))
    mixed, fused, full = _connector(loss_size=dict(seg='fused')), _connector(loss_size='fused'), _connector()
    assert mixed.loss_sizes == dict(seg='fused', depth='input')
    out = mixed(feats, (4, 6))
    got = mixed.loss(out, _samples())
    assert torch.equal(got['conn.seg.loss_ce'], fused.loss(out, _samples())['conn.seg.loss_ce'])
    for key, value in full.loss(out, _samples()).items():
        if key.startswith('conn.depth.'):
            assert torch.equal(got[key], value)


def test_unknown_loss_size_is_refused():
    with pytest.raises(ValueError, match="loss_size must be one of \\('input', 'fused'\\)"):
        _connector(loss_size='label')
    with pytest.raises(ValueError, match="got {'depth': 'half'}"):
        _connector(loss_size=dict(depth='half'))
    with pytest.raises(KeyError, match="loss_size names tasks \\['normals'\\]"):
        _connector(loss_size=dict(normals='fused'))
