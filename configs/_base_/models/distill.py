# Shared parts of the distillation configs (kd_static, kd4mtl, JointDistill).
#
# Teachers are loaded from their own runs: train them first, e.g.
#   python tools/train.py configs/teachers/seg_synthdrive.py     # -> work_dirs/seg_synthdrive/final.pth
# and point a distiller elsewhere with --cfg-options model.teachers.seg.checkpoint=PATH (the suite does this).

# What each teacher records during its (single, no-grad) forward: feature name -> recorder.
#   last:   the input of its prediction layer (a recorder without `source`), f_i^T of JointDistill's connector;
#   shared: its finest shared feature (FPN level 0, stride 4), the teacher side of KD4MTL.
teacher_features = dict(
    last=dict(type='ModuleInputsRecorder'), shared=dict(type='ModuleOutputsRecorder', source='neck', index=0))

# Logit KD terms: segmentation = tau^2 * KL(teacher || student) of softmax(z / tau) ('student_teacher' for the
# reverse direction); depth = L1 to the teacher's depth (alternatives: SILogLoss, BerHuLoss).
kd_losses = dict(
    seg=dict(type='TemperatureKLLoss', temperature=1.0, kl_direction='teacher_student', loss_weight=1.0),
    depth=dict(type='DepthL1Loss', loss_weight=1.0))

# Static distillation weights omega_i = 1 on the kd.<teacher> objectives (ground-truth terms: weight 1).
fixed_weighting = dict(type='Fixed', balance='distill', weights={'kd.seg': 1.0, 'kd.depth': 1.0})
