# AdaptSegNet as published (Tsai et al., CVPR 2018; train_gta2cityscapes_multi.py): DeepLab-v2 ResNet-101 with
# two levels (configs/_base_/models/dakd_deeplabv2.py), GTA5 1280x720 -> Cityscapes 1024x512, batch 1, SGD
# 2.5e-4 with the classifiers at 10x, poly over 250k steps stopped at 150k; discriminators width 64, Adam
# 1e-4; lambda_seg 0.1, lambda_adv 0.0002 / 0.001. Their figure: 42.4 mIoU on Cityscapes val (ImageNet-
# initialised here, COCO-pretrained DeepLab there: not comparable one to one).
_base_ = [
    '../_base_/models/dakd_deeplabv2.py', '../_base_/datasets/gta5_to_cityscapes.py',
    './_base_/schedule_sgd_poly_adapt.py', '../_base_/default_runtime.py'
]
model = dict(_base_.adaptsegnet, student=_base_.deeplabv2_model)
optim_wrapper = dict(
    student=dict(paramwise_cfg=dict(custom_keys={'heads': dict(lr_mult=10.0), 'aux_head': dict(lr_mult=10.0)})))
train_dataloader = dict(batch_size=1)
max_iters = 150000
poly_iters = 250000
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=poly_iters)]
train_cfg = dict(max_iters=max_iters)
randomness = dict(seed=0)
