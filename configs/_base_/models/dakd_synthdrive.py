# Domain Adaptive KD on SynthDrive (docs/methods.md, "Domain Adaptive KD"): the multi-level student and
# teacher (CPU-trainable), AdaptSegNet's discriminators and every weight of the official DAKD code.  The
# student is the joint student's segmentation model (slim ResNet-18 V1c, base width 16, FPN 64, FCN head on
# FPN level 0 at stride 4) plus an intermediate head: a 1x1 convolution (DAKD's DRNSeg `seg2`) on backbone
# stage 3 (stride 16). The teacher is the SynthDrive teacher's architecture (base width 32, FPN 96) with the
# same intermediate head; about 3.4x the student's parameters.
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='JointDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=32)
seg_loss = dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0, avg_non_ignore=True)
student_model = dict(
    type='MultiLevelSegmentor',
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
    decode_head=dict(
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
        loss_decode=seg_loss),
    aux_head=dict(
        type='FCNHead',  # num_convs=0: a 1x1 classifier on the stage
        in_channels=64,
        in_index=2,
        channels=64,
        num_convs=0,
        concat_input=False,
        dropout_ratio=0.0,
        num_classes=19,
        align_corners=False,
        loss_decode=seg_loss),
    aux_input='backbone',
    aux_weight=0.1,  # lambda_seg: weight of the intermediate head's cross-entropy (AdaptSegNet, DAKD)
    weighting=dict(type='EW'),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
teacher_model = dict(
    student_model,
    backbone=dict(student_model['backbone'], base_channels=32, stem_channels=32),
    neck=dict(student_model['neck'], in_channels=[32, 64, 128, 256], out_channels=96),
    decode_head=dict(student_model['decode_head'], in_channels=96, channels=96),
    aux_head=dict(student_model['aux_head'], in_channels=128, channels=128))

# AdaptSegNet's output-space adaptation: one FCDiscriminator per level on the softmax at the input resolution,
# BCE ('lsgan': least squares), source label 0, target label 1. Width 16 instead of AdaptSegNet's 64 on 2 CPU
# cores: at 64 channels a discriminator pass over a 128x256 map costs about 4 student forwards.
discriminator = dict(
    aux=dict(type='FCDiscriminator', channels=16), final=dict(type='FCDiscriminator', channels=16))
adaptsegnet = dict(
    type='AdaptSegNet',
    discriminator=discriminator,
    lambda_adv=dict(aux=0.0002, final=0.001),  # lambda_adv1, lambda_adv2
    gan='vanilla',
    resolution='input',
    weighting=dict(type='EW', balance='all'))  # seg + adv summed, AdaptSegNet's loss
# DAKD's distillation weights (train_gta2cs_ts_multi.py) and terms; the paradigm switches are set per config.
dakd = dict(
    adaptsegnet,
    type='DAKD',
    lambda_kl=0.1,
    lambda_mse=0.01,
    lambda_target_ce=1.0,
    lambda_seg=None,  # None: the student's aux_weight (0.1), as the code
    target_distill=1.0,
    kl_loss=dict(type='DAKDKLLoss', mode='true', temperature=1.0, reduction='mean'),  # mode='code': the quirk
    mse_loss=dict(type='DAKDMSELoss', space='log_prob'),
    pseudo_loss=dict(type='PseudoLabelCELoss', threshold=None))
