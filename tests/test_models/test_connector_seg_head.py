"""ConnectorSegHead: mmseg's FCNHead loss terms, bit for bit, without the logged accuracy."""
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from jdbench.registry import MODELS


def _heads(**kw):
    cfg = dict(in_channels=8, channels=8, num_convs=0, concat_input=False, num_classes=5, dropout_ratio=0.0,
               in_index=0, ignore_index=255, **kw)
    torch.manual_seed(0)
    fcn = MODELS.build(dict(type='FCNHead', **cfg))
    ours = MODELS.build(dict(type='ConnectorSegHead', **cfg))
    ours.load_state_dict(fcn.state_dict())  # same parameters, same state_dict keys
    return fcn, ours


def _samples(n=2, size=(16, 24)):
    gen = torch.Generator().manual_seed(1)
    out = []
    for _ in range(n):
        label = torch.randint(0, 5, (1, *size), generator=gen)
        label[:, :3] = 255  # ignored rows
        out.append(SegDataSample(gt_sem_seg=PixelData(data=label)))
    return out


@pytest.mark.parametrize('loss_decode', [
    dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True),
    [dict(type='CrossEntropyLoss', loss_weight=1.0), dict(type='CrossEntropyLoss', loss_weight=0.5)],
])
def test_same_losses_as_fcnhead_without_accuracy(loss_decode):
    fcn, ours = _heads(loss_decode=loss_decode)
    logits = torch.randn(2, 5, 4, 6, requires_grad=True)  # upsampled to the 16x24 labels, as in mmseg
    ref = fcn.loss_by_feat(logits, _samples())
    got = ours.loss_by_feat(logits, _samples())
    assert set(ref) == set(got) | {'acc_seg'} and 'acc_seg' not in got
    for key, value in got.items():
        assert torch.equal(value, ref[key])
    g_ref, = torch.autograd.grad(ref['loss_ce'], logits)
    g_got, = torch.autograd.grad(got['loss_ce'], logits)
    assert torch.equal(g_ref, g_got)


def test_sampler_is_refused():
    _, ours = _heads(sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=10))
    with pytest.raises(ValueError, match='no pixel sampler'):
        ours.loss_by_feat(torch.randn(2, 5, 4, 6), _samples())
