# Domain Adaptive KD's networks for real data (GTA5/BDD100K -> Cityscapes), with mmseg parts. DAKD uses
# DRN-D-22 (student) and DRN-D-38 (teacher); mmseg has no DRN, so jdbench substitutes the closest mmseg
# backbones: DRN-D-22 = BasicBlock [1,1,2,2,2,2,1,1] -> ResNet-18 (BasicBlock [2,2,2,2]), output stride 8
# DRN-D-38 = BasicBlock [1,1,3,4,6,3,1,1] -> ResNet-34 (BasicBlock [3,4,6,3]), output stride 8 (strides
# 1,2,1,1 and dilations 1,1,2,4 as DRN's layers 3-6; ImageNet weights from torchvision). DRN's extra layers 7
# and 8 (one 3x3 conv-BN-ReLU each, dilations 2 and 1, no residual) are the final head's two 3x3 convolutions
# (dilation 1), then its 1x1 classifier (DRNSeg `seg1`); the intermediate head is a 1x1 classifier on the
# stage-4 output, i.e. DRN's layer 6 (DRNSeg `seg2`). DRN's in-network x8 upsampling is the models'
# resolution='input'.
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='JointDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size_divisor=8)
seg_loss = dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0, avg_non_ignore=True)
student_model = dict(
    type='MultiLevelSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNet',
        depth=18,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18')),
    decode_head=dict(
        type='FCNHead',
        in_channels=512,
        in_index=3,
        channels=512,
        num_convs=2,
        kernel_size=3,
        concat_input=False,
        dropout_ratio=0.0,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=seg_loss),
    aux_head=dict(
        type='FCNHead',
        in_channels=512,
        in_index=3,
        channels=512,
        num_convs=0,
        concat_input=False,
        dropout_ratio=0.0,
        num_classes=19,
        align_corners=False,
        loss_decode=seg_loss),
    aux_input='backbone',
    aux_weight=0.1,
    weighting=dict(type='EW'),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
teacher_model = dict(
    student_model,
    backbone=dict(student_model['backbone'], depth=34,
                  init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet34')))

# AdaptSegNet's discriminators (width 64) and weights, DAKD's weights, as in
# configs/_base_/models/dakd_synthdrive.py.
discriminator = dict(
    aux=dict(type='FCDiscriminator', channels=64), final=dict(type='FCDiscriminator', channels=64))
adaptsegnet = dict(
    type='AdaptSegNet',
    discriminator=discriminator,
    lambda_adv=dict(aux=0.0002, final=0.001),
    gan='vanilla',
    resolution='input',
    weighting=dict(type='EW', balance='all'))
dakd = dict(
    adaptsegnet,
    type='DAKD',
    lambda_kl=0.1,
    lambda_mse=0.01,
    lambda_target_ce=1.0,
    lambda_seg=None,
    target_distill=1.0,
    kl_loss=dict(type='DAKDKLLoss', mode='true', temperature=1.0, reduction='mean'),
    mse_loss=dict(type='DAKDMSELoss', space='log_prob'),
    pseudo_loss=dict(type='PseudoLabelCELoss', threshold=None))
