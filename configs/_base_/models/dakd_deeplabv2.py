# AdaptSegNet's segmentation network (DeeplabMulti): ResNet-101 at output stride 8 with two DeepLab-v2
# classifiers (ASPPClassifierHead: dilated 3x3 convolutions 6/12/18/24 straight to the logits, summed), the
# intermediate one on stage 3 (1024 channels), the final one on stage 4 (2048). Substitutions: mmseg's
# ResNetV1c-101 with ImageNet weights (AdaptSegNet starts from a COCO-pretrained DeepLab-v2, not available
# here); BN frozen (statistics and affine parameters), the usual DeepLab-v2 practice. AdaptSegNet's
# Classifier_Module returns inside its loop and so sums only the 6 and 12 branches: dilations=(6, 12) computes
# exactly that.
norm_cfg = dict(type='BN', requires_grad=False)
data_preprocessor = dict(
    type='JointDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=8)
seg_loss = dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0, avg_non_ignore=True)
aspp_dilations = (6, 12, 18, 24)
deeplabv2_model = dict(
    type='MultiLevelSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNetV1c',
        depth=101,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        norm_cfg=norm_cfg,
        norm_eval=True,
        contract_dilation=True,
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnet101_v1c')),
    decode_head=dict(
        type='ASPPClassifierHead', in_channels=2048, in_index=3, dilations=aspp_dilations, num_classes=19,
        align_corners=False, loss_decode=seg_loss),
    aux_head=dict(
        type='ASPPClassifierHead', in_channels=1024, in_index=2, dilations=aspp_dilations, num_classes=19,
        align_corners=False, loss_decode=seg_loss),
    aux_input='backbone',
    aux_weight=0.1,
    weighting=dict(type='EW'),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
# AdaptSegNet's multi-level adaptation on it: discriminators of width 64, BCE, lambda_adv 0.0002 / 0.001.
discriminator = dict(
    aux=dict(type='FCDiscriminator', channels=64), final=dict(type='FCDiscriminator', channels=64))
adaptsegnet = dict(
    type='AdaptSegNet',
    discriminator=discriminator,
    lambda_adv=dict(aux=0.0002, final=0.001),
    gan='vanilla',
    resolution='input',
    weighting=dict(type='EW', balance='all'))
