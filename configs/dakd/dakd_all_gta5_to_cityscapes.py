# Domain Adaptive KD on GTA5 -> Cityscapes with every term of the official code (train_gta2cs_ts_multi.py):
# DRN-D-38 substitute (adapted, frozen) -> DRN-D-22 substitute, all four paradigms on, batch 2, 50k steps.
# Train the teacher first: python tools/train.py configs/dakd/adaptsegnet_teacher_gta5_to_cityscapes.py
_base_ = [
    '../_base_/models/dakd_drn.py', '../_base_/datasets/gta5_to_cityscapes.py',
    './_base_/schedule_sgd_poly_adapt.py', '../_base_/default_runtime.py'
]
model = dict(
    _base_.dakd,
    student=_base_.student_model,
    teachers=dict(
        seg=dict(
            type='MultiLevelTeacher',
            config='configs/dakd/adaptsegnet_teacher_gta5_to_cityscapes.py',
            checkpoint='work_dirs/adaptsegnet_teacher_gta5_to_cityscapes/final.pth')))
train_dataloader = dict(batch_size=2)
max_iters = 50000
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=max_iters)]
train_cfg = dict(max_iters=max_iters)
randomness = dict(seed=0)
