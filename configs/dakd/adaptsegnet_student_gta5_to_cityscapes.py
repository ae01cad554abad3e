# AdaptSegNet student on GTA5 -> Cityscapes (the undistilled adapted student, train_gta2cs_multi_drn22.py):
# the DRN-D-22 substitute, source CE (lambda_seg 0.1) + output-space adversarial adaptation (lambda_adv 0.0002
# / 0.001, FCDiscriminator width 64, Adam 1e-4), batch 3, poly over 250k steps, stopped at 200k.
_base_ = [
    '../_base_/models/dakd_drn.py', '../_base_/datasets/gta5_to_cityscapes.py',
    './_base_/schedule_sgd_poly_adapt.py', '../_base_/default_runtime.py'
]
model = dict(_base_.adaptsegnet, student=_base_.student_model)
train_dataloader = dict(batch_size=3)
max_iters = 200000
poly_iters = 250000
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=poly_iters)]
train_cfg = dict(max_iters=max_iters)
randomness = dict(seed=0)
