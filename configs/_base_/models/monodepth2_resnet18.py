# Monodepth2's model for KITTI: ImageNet-pretrained ResNet-18 encoders (torchvision layout, mmseg `ResNet`) for
# the depth net (relu(conv1) at stride 2 as the finest skip, Monodepth2's decoder widths 16..256) and the pose
# net (first conv repeated over the two stacked frames and halved, Monodepth2's multi-image ResNet); depth
# range 0.1-100 m. The weights come from torchvision://resnet18 (downloaded once by mmengine).
_base_ = ['./monodepth2.py']
norm_cfg = dict(type='BN', requires_grad=True)
resnet18 = dict(
    type='ResNet',
    depth=18,
    num_stages=4,
    out_indices=(0, 1, 2, 3),
    strides=(1, 2, 2, 2),
    dilations=(1, 1, 1, 1),
    norm_cfg=norm_cfg,
    norm_eval=False,
    style='pytorch')
model = dict(
    depth_net=dict(
        backbone=dict(resnet18, _delete_=True, init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18')),
        stem_source='relu',
        decoder=dict(num_ch_dec=(16, 32, 64, 128, 256))),
    pose_net=dict(
        backbone=dict(resnet18, _delete_=True, in_channels=6),
        pretrained='torchvision://resnet18',
        decoder=dict(channels=256)))
