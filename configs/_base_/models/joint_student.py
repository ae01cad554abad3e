# The joint student: a slim ResNet-18 (V1c stem, base width 16), an FPN neck and one light head per task.
# The same model with one entry in `heads` is the single-task model (teachers, Δm references).
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='JointDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=32)
model = dict(
    type='JointStudent',
    data_preprocessor=data_preprocessor,
    backbone=dict(
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
        contract_dilation=True),
    neck=dict(type='mmdet.FPN', in_channels=[16, 32, 64, 128], out_channels=64, num_outs=4),
    heads=dict(
        seg=dict(
            type='FCNHead',
            in_channels=64,
            in_index=0,
            channels=64,
            num_convs=1,
            concat_input=False,
            dropout_ratio=0.0,
            num_classes=19,
            norm_cfg=norm_cfg,
            align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0, avg_non_ignore=True)),
        depth=dict(
            type='DepthHead',
            in_channels=64,
            in_index=0,
            channels=64,
            num_convs=1,
            dropout_ratio=0.0,
            parametrisation='sigmoid',
            max_depth=120.0,  # SynthDrive depth reaches ~117 m; metrics use (1e-3, 80) m
            norm_cfg=norm_cfg,
            align_corners=False,
            loss_decode=dict(type='DepthL1Loss', loss_weight=1.0))),
    weighting=dict(type='EW'),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
