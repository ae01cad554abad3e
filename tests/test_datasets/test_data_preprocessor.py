"""JointDataPreProcessor pads depth with 0 (invalid) and labels with 255 (ignore)."""
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from jdbench.models.data_preprocessor import JointDataPreProcessor
from jdbench.registry import MODELS


def sample(h, w, depth_value):
    s = SegDataSample()
    s.gt_sem_seg = PixelData(data=torch.full((1, h, w), 3, dtype=torch.int64))
    s.gt_depth_map = PixelData(data=torch.full((1, h, w), depth_value, dtype=torch.float32))
    return s


def batch():
    inputs = [torch.full((3, 4, 6), 10, dtype=torch.uint8), torch.full((3, 3, 5), 20, dtype=torch.uint8)]
    return dict(inputs=inputs, data_samples=[sample(4, 6, 255.0), sample(3, 5, 12.5)])


def test_pads_depth_with_zero_and_labels_with_255():
    pre = MODELS.build(dict(type='JointDataPreProcessor', mean=[0, 0, 0], std=[1, 1, 1], size=(5, 8)))
    assert isinstance(pre, JointDataPreProcessor)
    out = pre(batch(), training=True)
    assert out['inputs'].shape == (2, 3, 5, 8)
    for s, (h, w), value in zip(out['data_samples'], [(4, 6), (3, 5)], [255.0, 12.5]):
        depth, seg = s.gt_depth_map.data[0], s.gt_sem_seg.data[0]
        assert depth.shape == seg.shape == (5, 8)
        assert (depth[:h, :w] == value).all()  # a real 255 m depth is kept
        assert (seg[:h, :w] == 3).all()
        pad = torch.ones(5, 8, dtype=torch.bool)
        pad[:h, :w] = False
        assert (depth[pad] == 0).all() and (seg[pad] == 255).all()
    assert out['data_samples'][1].metainfo['padding_size'] == (0, 3, 0, 2)
    assert (out['inputs'][1, :, 3:, :] == 0).all()  # image pad_val


def test_size_divisor_and_custom_pad_value():
    pre = JointDataPreProcessor(size_divisor=4, depth_pad_val=-1.0, seg_pad_val=254)
    out = pre(batch(), training=True)
    depth, seg = out['data_samples'][1].gt_depth_map.data[0], out['data_samples'][1].gt_sem_seg.data[0]
    assert depth.shape == (4, 8)
    assert (depth[3, :] == -1).all() and (depth[:, 5:] == -1).all() and (depth[:3, :5] == 12.5).all()
    assert (seg[3, :] == 254).all()


def test_inference_leaves_depth_untouched():
    pre = JointDataPreProcessor()
    data = dict(inputs=[torch.zeros(3, 4, 6, dtype=torch.uint8)], data_samples=[sample(4, 6, 7.0)])
    out = pre(data, training=False)
    assert out['inputs'].shape == (1, 3, 4, 6)
    assert (out['data_samples'][0].gt_depth_map.data == 7.0).all()
