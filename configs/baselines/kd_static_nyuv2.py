# kd_static: the joint student with ground truth plus logit distillation straight from each single-task
# teacher, fixed weights omega = 1 (see docs/methods.md).
_base_ = ['./mtl_nyuv2.py', '../_base_/models/teachers_nyuv2.py']
model = dict(
    _delete_=True,
    type='KDStatic',
    student=_base_.model,
    teachers=_base_.teachers,
    kd_losses=_base_.kd_losses,
    depth_kd_mask='all',  # 'gt': depth KD only where the ground truth is valid
    weighting=_base_.fixed_weighting)
