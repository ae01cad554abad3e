# KD4MTL (Li & Bilen 2020): ground truth plus feature distillation from each single-task teacher through a
# task-specific 1x1 adaptor on the student's shared features (FPN level 0); L2-normalised features, fixed
# per-teacher weights (1, 1). See docs/methods.md.
_base_ = ['./mtl_nyuv2.py', '../_base_/models/teachers_nyuv2.py']
model = dict(
    _delete_=True,
    type='KD4MTL',
    student=_base_.model,
    teachers=_base_.teachers,
    student_feature_index=0,  # the student's FPN level 0 (stride 4)
    teacher_feature='shared',  # the teacher's FPN level 0, recorded by the teacher
    adaptor=dict(type='KD4MTLAdaptor'),  # 1x1 conv, no bias, Xavier init
    feat_loss=dict(type='FeatureL2Loss', normalize=True, loss_weight=1.0),
    weighting=_base_.fixed_weighting)
# KD4MTL trains its adaptors with their own learning rate (Adam 0.1 vs 1e-4 for the network): scale it here.
adaptor_lr_mult = 1.0
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'adaptors': dict(lr_mult=adaptor_lr_mult)}))
