import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from jdbench.registry import MODELS

CFG = Config.fromfile('configs/_base_/models/joint_student.py').model


def _samples(n=2, h=64, w=96, flip=False):
    out = []
    for i in range(n):
        s = SegDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w), flip=flip,
                                        flip_direction='horizontal'))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 19, (1, h, w)))
        s.gt_depth_map = PixelData(data=torch.rand(1, h, w) * 50 + 1)
        out.append(s)
    return out


def _model(**over):
    cfg = {**copy.deepcopy(CFG).to_dict(), **over}
    cfg.pop('weighting')
    return MODELS.build(cfg)


def test_modes_and_keys():
    torch.manual_seed(0)
    model = _model()
    x = torch.randn(2, 3, 64, 96)
    losses = model(x, _samples(), mode='loss')
    assert set(losses) == {'seg.loss_ce', 'seg.acc_seg', 'depth.loss_l1'}
    assert model.task_names == ['seg', 'depth'] and model.task_kind('depth') == 'depth'
    raw = model(x, mode='tensor')
    assert raw['seg'].shape == (2, 19, 16, 24) and raw['depth'].shape == (2, 1, 16, 24)
    assert (raw['depth'] > 0).all() and (raw['depth'] < 100).all()
    model.eval()
    with torch.no_grad():
        preds = model(x, _samples(h=64, w=96), mode='predict')
    assert preds[0].pred_sem_seg.shape == (64, 96) and preds[0].pred_depth_map.shape == (64, 96)
    assert preds[0].seg_logits.data.shape == (19, 64, 96)


def test_predict_resizes_to_original_shape_and_unflips():
    torch.manual_seed(0)
    model = _model().eval()
    x = torch.randn(1, 3, 64, 96)
    samples = _samples(1)
    for s in samples:
        s.set_metainfo(dict(ori_shape=(128, 192)))
    with torch.no_grad():
        plain = model(x, samples, mode='predict')[0].pred_depth_map.data
        flipped = model(x.flip(3), _samples(1, flip=True), mode='predict')[0].pred_depth_map.data
    assert plain.shape == (1, 128, 192)
    # the un-flipped prediction of the flipped image is the mirror image of the network's output
    with torch.no_grad():
        raw = model(x.flip(3), mode='tensor')['depth']
    expect = torch.nn.functional.interpolate(raw, size=(64, 96), mode='bilinear', align_corners=False).flip(3)[0]
    torch.testing.assert_close(flipped, expect)


def test_single_task_model_and_shared_modules():
    model = _model(heads=dict(depth=CFG.heads.depth))
    assert model.task_names == ['depth'] and model.num_classes == {}
    assert [type(m).__name__ for m in model.shared_modules()] == ['ResNetV1c', 'FPN']
    seg_only = MODELS.build({**copy.deepcopy(CFG), 'heads': dict(seg=CFG.heads.seg, depth=None), 'weighting': None})
    assert seg_only.task_names == ['seg'] and seg_only.num_classes == {'seg': 19}


def test_loss_decreases_on_a_fixed_batch():
    torch.manual_seed(0)
    model = _model()
    x, samples = torch.randn(2, 3, 64, 96), _samples()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(8):
        losses = model(x, samples, mode='loss')
        total = sum(v for k, v in losses.items() if 'loss' in k)
        first = total.item() if first is None else first
        opt.zero_grad()
        total.backward()
        opt.step()
    assert total.item() < 0.8 * first


def test_no_heads_is_an_error():
    with pytest.raises(ValueError, match='at least one head'):
        MODELS.build({**copy.deepcopy(CFG), 'heads': dict(seg=None), 'weighting': None})
