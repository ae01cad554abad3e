"""Self-supervised monocular depth: geometry, depth and pose networks, Monodepth2 (loss, train step, predict,
export). Frame sequences are built by hand following the packing contract of issue 12: inputs (B, 3·F·A, H, W)
RGB in [0, 1] (uint8 BGR before the pre-processor), metainfo ``frame_ids``, ``K``, ``has_aug``."""
import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmseg.structures import SegDataSample

from jdbench.engine.optimizers import WeightedOptimWrapper
from jdbench.models.selfsup import (DepthDecoder, Monodepth2, MonoDepthNet, PoseNet, backproject,
                                    disp_to_depth, load_multi_frame_weights, pixel_grid, project,
                                    split_sequence, transformation_from_parameters, warp)
from jdbench.registry import MODELS
from jdbench.utils import load_weights

H, W, FX, Z, STEP = 64, 96, 48., 4., 0.25   # image size, focal length (px), plane depth (m), camera step (m)
K = [[FX, 0., W / 2, 0.], [0., FX, H / 2, 0.], [0., 0., 1., 0.], [0., 0., 0., 1.]]
BACKBONE = dict(type='ResNetV1c', depth=18, base_channels=8, stem_channels=8, num_stages=4,
                out_indices=(0, 1, 2, 3), strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1),
                norm_cfg=dict(type='BN'), contract_dilation=True)
DEPTH_NET = dict(type='MonoDepthNet', backbone=BACKBONE, decoder=dict(num_ch_dec=(8, 8, 16, 16, 32)))
POSE_NET = dict(type='PoseNet', backbone=dict(BACKBONE, in_channels=6), decoder=dict(channels=32))


def model_cfg(**kw):
    return dict(type='Monodepth2', depth_net=copy.deepcopy(DEPTH_NET), pose_net=copy.deepcopy(POSE_NET), **kw)


# ------------------------------------------------------------------------------------------ synthetic video
def plane_frames(frame_ids=(0, -1, 1), phase=0.):
    """A textured fronto-parallel plane at depth Z seen by a camera moving STEP metres to the right per frame:
    frame k shows the world point X = (u − cx)·Z/fx + k·STEP at column u (rendered analytically)."""
    v, u = torch.meshgrid(torch.arange(H, dtype=torch.float32), torch.arange(W, dtype=torch.float32),
                          indexing='ij')
    out = []
    for k in frame_ids:
        x = (u - W / 2) / FX * Z + k * STEP
        out.append(torch.stack([0.5 + 0.2 * torch.sin(3.1 * x + 0.21 * v + phase + c)
                                + 0.15 * torch.sin(7.3 * x - 0.37 * v + 2 * c + phase) for c in range(3)]))
    return out


def sample(frame_ids=(0, -1, 1), has_aug=True, **meta):
    return SegDataSample(metainfo=dict(frame_ids=tuple(frame_ids), K=K, has_aug=has_aug, img_shape=(H, W),
                                       ori_shape=(H, W), **meta))


def video_batch(n=2, frame_ids=(0, -1, 1)):
    """(inputs (n, 6·F, H, W) RGB [0, 1] with the augmented copy = raw, data samples)."""
    items = []
    for i in range(n):
        frames = plane_frames(frame_ids, phase=0.7 * i)
        items.append(torch.cat(frames + frames))
    return torch.stack(items), [sample(frame_ids) for _ in range(n)]


def packed(inputs, samples):
    """The same batch as ``PackSequenceInputs`` gives it: uint8 BGR frames, before the pre-processor."""
    b, c, h, w = inputs.shape
    bgr = inputs.view(b, c // 3, 3, h, w).flip(2).reshape(b, c, h, w)
    return dict(inputs=[(x * 255).round().clamp(0, 255).to(torch.uint8) for x in bgr],
                data_samples=copy.deepcopy(samples))


# ------------------------------------------------------------------------------------------ geometry
def test_backprojection_then_projection_with_identity_pose_returns_the_pixels():
    g = torch.Generator().manual_seed(0)
    depth = torch.rand(2, 1, 5, 7, generator=g) * 20 + 0.5
    Km = torch.tensor(K).repeat(2, 1, 1)
    Km[1, 0, 0], Km[1, 0, 2] = 30., 2.5
    pix = project(backproject(depth, torch.linalg.inv(Km)), Km, torch.eye(4).repeat(2, 1, 1))
    torch.testing.assert_close(pix, pixel_grid(5, 7)[:2].expand(2, 2, 35), atol=1e-4, rtol=0)
    # warping with the identity pose samples every pixel centre: the image comes back
    img = torch.rand(2, 3, 5, 7, generator=g)
    torch.testing.assert_close(warp(img, depth, Km, torch.linalg.inv(Km), torch.eye(4).repeat(2, 1, 1)), img,
                               atol=1e-4, rtol=0)


def test_warp_with_the_true_pose_reconstructs_the_target():
    """Plane at depth Z, camera STEP to the right: T(target -> source) = translation (−STEP, 0, 0); the source
    sampled at the target's projections is the target (except the columns that left the view)."""
    target, source = plane_frames((0, 1))
    depth = torch.full((1, 1, H, W), Z)
    T = transformation_from_parameters(torch.zeros(1, 3), torch.tensor([[-STEP, 0., 0.]]))
    Km = torch.tensor([K])
    warped = warp(source[None], depth, Km, torch.linalg.inv(Km), T)
    shift = math.ceil(FX * STEP / Z)              # u_src = u − 3: the 3 left columns leave the source's view
    err = (warped[0] - target).abs()[..., shift:]
    assert err.max() < 0.02                        # bilinear sampling of a smooth texture
    assert (source - target).abs()[..., shift:].mean() > 20 * err.mean()


def test_transformation_from_parameters_matches_hand_computed_rotation():
    # 90 degrees about z: x -> y, y -> -x
    M = transformation_from_parameters(torch.tensor([[0., 0., math.pi / 2]]), torch.tensor([[1., 2., 3.]]))
    expected = torch.tensor([[[0., -1., 0., 1.], [1., 0., 0., 2.], [0., 0., 1., 3.], [0., 0., 0., 1.]]])
    torch.testing.assert_close(M, expected, atol=1e-6, rtol=0)
    inv = transformation_from_parameters(torch.tensor([[0., 0., math.pi / 2]]), torch.tensor([[1., 2., 3.]]),
                                         invert=True)
    expected_inv = torch.tensor([[[0., 1., 0., -2.], [-1., 0., 0., 1.], [0., 0., 1., -3.], [0., 0., 0., 1.]]])
    torch.testing.assert_close(inv, expected_inv, atol=1e-6, rtol=0)
    # an angle θ about x, (B, 1, 3) inputs as the pose decoder gives them
    theta = 0.3
    M = transformation_from_parameters(torch.tensor([[[theta, 0., 0.]]]), torch.zeros(1, 1, 3))
    c, s = math.cos(theta), math.sin(theta)
    torch.testing.assert_close(M[0, :3, :3], torch.tensor([[1., 0., 0.], [0., c, -s], [0., s, c]]), atol=1e-6,
                               rtol=0)
    # a general pose: the inverse is the inverse; zero rotation is the identity
    g = torch.Generator().manual_seed(1)
    aa, t = torch.randn(3, 3, generator=g), torch.randn(3, 3, generator=g)
    prod = transformation_from_parameters(aa, t, invert=True) @ transformation_from_parameters(aa, t)
    torch.testing.assert_close(prod, torch.eye(4).expand(3, 4, 4), atol=1e-5, rtol=0)
    torch.testing.assert_close(transformation_from_parameters(torch.zeros(1, 3), torch.zeros(1, 3)),
                               torch.eye(4)[None])


def test_disp_to_depth():
    scaled, depth = disp_to_depth(torch.tensor([0., 0.5, 1.]), 0.1, 100.)
    torch.testing.assert_close(depth, torch.tensor([100., 1. / (0.01 + 0.5 * 9.99), 0.1]))
    torch.testing.assert_close(scaled * depth, torch.ones(3))
    with pytest.raises(ValueError, match='min_depth'):
        disp_to_depth(torch.zeros(1), 10., 1.)


# ------------------------------------------------------------------------------------------ networks
def test_depth_decoder_with_four_and_five_encoder_features():
    net4 = MODELS.build(copy.deepcopy(DEPTH_NET))
    assert net4.decoder.in_strides == [4, 8, 16, 32] and net4.decoder.in_channels == [8, 16, 32, 64]
    assert net4.decoder.skip_index == {2: 0, 3: 1, 4: 2}                # stages 1 and 0: no skip
    net5 = MODELS.build(dict(DEPTH_NET, stem_source='stem'))             # Monodepth2's 5 features
    assert net5.decoder.in_strides == [2, 4, 8, 16, 32] and net5.decoder.in_channels == [8, 8, 16, 32, 64]
    assert net5.decoder.skip_index == {1: 0, 2: 1, 3: 2, 4: 3}
    x = torch.rand(2, 3, 64, 96)
    for net in (net4, net5):
        disps = net(x)
        assert [tuple(d.shape) for d in disps] == [(2, 1, 64 // 2 ** s, 96 // 2 ** s) for s in range(4)]
        assert all(((d > 0) & (d < 1)).all() for d in disps)
    # Monodepth2's decoder widths and layers: ConvBlock(256 <- 64) first, the 1/2 skip concatenated
    assert net5.decoder.upconvs0[4][0][1].in_channels == 64
    assert net5.decoder.upconvs1[1][0][1].in_channels == 16
    # the input normalisation is inside: (x − 0.45)/0.225
    feats = net4.encode(torch.full((1, 3, 64, 64), 0.45))
    torch.testing.assert_close(feats[-1], net4.backbone(torch.zeros(1, 3, 64, 64))[-1])
    with pytest.raises(ValueError, match='does not match the encoder'):
        MODELS.build(dict(DEPTH_NET, decoder=dict(in_channels=[1, 2, 3, 4])))
    with pytest.raises(KeyError, match='stem_source'):
        MODELS.build(dict(DEPTH_NET, stem_source='stemm'))
    with pytest.raises(ValueError, match='num_ch_dec'):
        DepthDecoder([8, 16], [16, 32], num_ch_dec=(8, 8))


def test_pose_net_outputs_and_multi_frame_weights(tmp_path):
    pose = MODELS.build(copy.deepcopy(POSE_NET))
    a, b = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    axisangle, translation = pose(a, b)
    assert axisangle.shape == (2, 3) and translation.shape == (2, 3)
    raw = pose.decoder.convs(pose.decoder.squeeze(pose.backbone((torch.cat([a, b], 1) - 0.45) / 0.225)[-1]))
    torch.testing.assert_close(translation, 0.01 * raw.mean(dim=(2, 3))[:, 3:6])
    # a 3-channel checkpoint: its first conv repeated over the 2 frames and halved
    single = MODELS.build(dict(BACKBONE))
    torch.save({'state_dict': {**single.state_dict(), 'fc.weight': torch.zeros(2)}}, str(tmp_path / 'r.pth'))
    skipped = load_multi_frame_weights(pose.backbone, str(tmp_path / 'r.pth'), 2)
    assert skipped['unexpected'] == ['fc.weight'] and not skipped['missing']
    w3 = single.state_dict()['stem.0.weight']
    torch.testing.assert_close(pose.backbone.state_dict()['stem.0.weight'], torch.cat([w3, w3], 1) / 2)
    torch.testing.assert_close(pose.backbone.state_dict()['layer4.1.conv2.weight'],
                               single.state_dict()['layer4.1.conv2.weight'])
    with pytest.raises(ValueError, match='in_channels=6'):
        PoseNet(backbone=dict(BACKBONE))


# ------------------------------------------------------------------------------------------ Monodepth2
def test_split_sequence_follows_the_packing_contract():
    inputs = torch.arange(18, dtype=torch.float32).view(1, 18, 1, 1).expand(1, 18, 2, 2)
    seq = split_sequence(inputs, [sample((0, -1, 1))])
    assert seq.frame_ids == (0, -1, 1)
    assert seq.raw[-1][0, :, 0, 0].tolist() == [3., 4., 5.]
    assert seq.aug[1][0, :, 0, 0].tolist() == [15., 16., 17.]
    assert seq.K.shape == (1, 4, 4) and seq.K[0, 0, 0] == FX
    seq = split_sequence(inputs[:, :9], [sample((0, -1, 1), has_aug=False)])
    assert seq.aug is seq.raw
    assert split_sequence(inputs[:, :3], None).frame_ids == (0, )            # test time: frame 0 alone
    with pytest.raises(ValueError, match='channels'):
        split_sequence(inputs[:, :12], [sample((0, -1, 1))])
    with pytest.raises(KeyError, match='frame_ids'):
        split_sequence(inputs, [SegDataSample()])


def test_single_frame_sequence_is_a_clear_error():
    model = MODELS.build(model_cfg())
    inputs, _ = video_batch(1, frame_ids=(0, ))
    with pytest.raises(ValueError, match='single frame'):
        model.loss(inputs, [sample((0, ))])


def test_loss_terms_are_monodepth2s():
    """The terms equal a direct computation: per scale, the disparity upsampled to the input, warped sources,
    the min reprojection; the smoothness on the scale-s disparity and the area-resized target."""
    torch.manual_seed(0)
    model = MODELS.build(model_cfg(photometric_loss=dict(type='PhotometricLoss', automask=False)))
    inputs, samples = video_batch(2)
    losses = model.loss(inputs, samples)
    assert set(losses) == {'depth.loss_photo', 'depth.loss_smooth'}
    seq = split_sequence(inputs, samples)
    disps = model.depth_net(seq.aug[0])
    Km = torch.tensor(K).repeat(2, 1, 1)
    poses = {-1: transformation_from_parameters(*model.pose_net(seq.aug[-1], seq.aug[0]), invert=True),
             1: transformation_from_parameters(*model.pose_net(seq.aug[0], seq.aug[1]))}
    photo, smooth = [], []
    for s, disp in enumerate(disps):
        depth = 1 / (0.01 + 9.99 * F.interpolate(disp, (H, W), mode='bilinear'))
        pes = [model.photometric_loss.photometric_error(
            warp(seq.raw[f], depth, Km, torch.linalg.inv(Km), poses[f]), seq.raw[0]) for f in (-1, 1)]
        photo.append(torch.minimum(*pes).mean())
        color = F.adaptive_avg_pool2d(seq.raw[0], disp.shape[2:])
        smooth.append(model.smoothness_loss(disp, color, s))
    torch.testing.assert_close(losses['depth.loss_photo'], sum(photo) / 4)
    torch.testing.assert_close(losses['depth.loss_smooth'], sum(smooth) / 4)


def test_training_reduces_the_photometric_loss():
    """A few Adam steps through the real train step (pre-processor from uint8 BGR, WeightedOptimWrapper with
    an EW strategy over objectives()) on a textured plane seen by a camera translating by a known step."""
    torch.manual_seed(0)
    model = MODELS.build(model_cfg(weighting=dict(type='EW')))
    assert [o.name for o in model.objectives()] == ['depth']
    inputs, samples = video_batch(2)
    data = packed(inputs, samples)
    wrapper = WeightedOptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-3))
    photo = [float(model.train_step(copy.deepcopy(data), wrapper)['depth.loss_photo']) for _ in range(12)]
    assert photo[-1] < 0.3 * photo[0], photo
    # the pose network learnt the direction of the motion: the camera moves right, so the 0 -> +1 transform
    # moves points left (scale is unknown in monocular training)
    with torch.no_grad():
        _, t = model.pose_net(inputs[:, :3], inputs[:, 6:9])
    assert (t[:, 0] < 0).all() and (t[:, 0].abs() > 2 * t[:, 1:].abs().max(dim=1)[0]).all()


def test_predict_gives_metric_depth_at_ori_shape():
    model = MODELS.build(model_cfg()).eval()
    image = torch.rand(2, 3, H, W)
    samples = [SegDataSample(metainfo=dict(img_shape=(H, W), ori_shape=(100, 150))) for _ in range(2)]
    with torch.no_grad():
        out = model.predict(image, samples)
        scaled, _ = disp_to_depth(model.depth_net(image)[0], 0.1, 100.)
        expected = 1 / F.interpolate(scaled, (100, 150), mode='bilinear', align_corners=False)
    for i, s in enumerate(out):
        assert s.pred_depth_map.data.shape == (1, 100, 150)
        torch.testing.assert_close(s.pred_depth_map.data, expected[i])
        assert ((s.pred_depth_map.data >= 0.1) & (s.pred_depth_map.data <= 100.)).all()
    # nearest resizing of the disparity, and the tensor mode
    nearest = MODELS.build(model_cfg(predict_interpolation='nearest')).eval()
    nearest.load_state_dict(model.state_dict())
    with torch.no_grad():
        d = nearest.predict(image, copy.deepcopy(samples))[0].pred_depth_map.data
        torch.testing.assert_close(d, 1 / F.interpolate(scaled, (100, 150))[0])
        assert set(model(image, mode='tensor')) == {'disp_0', 'disp_1', 'disp_2', 'disp_3'}
    # without data samples: the input size
    with torch.no_grad():
        assert model.predict(image)[0].pred_depth_map.data.shape == (1, H, W)


def test_export_is_the_depth_network_alone(tmp_path):
    torch.manual_seed(0)
    model = MODELS.build(model_cfg())
    state = model.export_state_dict()
    plain = MODELS.build(copy.deepcopy(DEPTH_NET))
    assert set(state) == set(plain.state_dict())
    assert not any(k.startswith(('pose', 'depth_net.')) for k in state)
    plain.load_state_dict(state, strict=True)
    model.eval(), plain.eval()
    x = torch.rand(1, 3, H, W)
    with torch.no_grad():
        torch.testing.assert_close(plain(x)[0], model.depth_net(x)[0])
    # the checkpoint loader puts a depth-only final.pth into the depth net of a full model
    torch.save({'state_dict': state}, str(tmp_path / 'final.pth'))
    fresh = MODELS.build(model_cfg())
    assert load_weights(fresh, str(tmp_path / 'final.pth')) == 'student'
    for k, v in fresh.depth_net.state_dict().items():
        torch.testing.assert_close(v, state[k])
    assert fresh.student is fresh.depth_net
    assert isinstance(fresh, Monodepth2) and isinstance(plain, MonoDepthNet)
    np.testing.assert_equal(sorted(fresh.state_dict()), sorted(
        [f'depth_net.{k}' for k in state] + [f'pose_net.{k}' for k in fresh.pose_net.state_dict()]))
