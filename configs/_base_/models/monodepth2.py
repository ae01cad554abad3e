# Monodepth2 (self-supervised monocular depth from video) with a slim encoder for SynthDrive sequences: the joint
# student's ResNet-18 (V1c stem, base width 16) for the depth net, with its stride-2 stem as Monodepth2's finest
# skip, and a half-width Monodepth2 decoder; the pose net is the same encoder on two stacked frames. About 1.0M
# parameters deployed (the depth net); trains on 2 CPU cores in minutes at 96x320. No ImageNet weights: the
# SynthDrive configs train from scratch (Monodepth2's KITTI recipe: monodepth2_resnet18.py).
norm_cfg = dict(type='BN', requires_grad=True)
encoder = dict(
    type='ResNetV1c',
    depth=18,
    base_channels=16,
    stem_channels=16,
    num_stages=4,
    out_indices=(0, 1, 2, 3),
    strides=(1, 2, 2, 2),
    dilations=(1, 1, 1, 1),
    norm_cfg=norm_cfg,
    norm_eval=False,
    contract_dilation=True)
model = dict(
    type='Monodepth2',
    data_preprocessor=dict(type='SequenceDataPreProcessor'),  # uint8 BGR frames -> RGB in [0, 1]
    depth_net=dict(
        type='MonoDepthNet',
        backbone=encoder,
        stem_source='stem',  # relu(stem) at stride 2: Monodepth2's 5 encoder features
        decoder=dict(num_ch_dec=(8, 16, 32, 64, 128), scales=(0, 1, 2, 3))),
    pose_net=dict(type='PoseNet', backbone=dict(encoder, in_channels=6), decoder=dict(channels=64)),
    photometric_loss=dict(type='PhotometricLoss'),  # 0.85 SSIM + 0.15 L1, min reprojection, auto-mask
    smoothness_loss=dict(type='EdgeAwareSmoothnessLoss'),  # 1e-3 / 2^s on mean-normalised disparity
    min_depth=0.1,
    max_depth=100.0)
