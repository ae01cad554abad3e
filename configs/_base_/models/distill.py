# Shared parts of the distillation configs (kd_static, kd4mtl, JointDistill).
#
# Teachers are loaded from their own runs: train them first, e.g.
#   python tools/train.py configs/teachers/seg_synthdrive.py     # -> work_dirs/seg_synthdrive/final.pth
# Teacher checkpoints are written '{teacher_work_dir}/<teacher run>/final.pth' and formatted with
# `model.teacher_work_dir` when the model is built. To use teachers from elsewhere pass
# `--cfg-options model.teacher_work_dir=DIR` (mmengine evaluates config files once, so overriding only the
# top-level `teacher_work_dir` needs jdbench.models.distillers.sync_teacher_work_dir(cfg) after the merge).
teacher_work_dir = 'work_dirs'

# What each teacher records during its (single, no-grad) forward: feature name -> recorder.
#   last:   the input of its last prediction layer, f_i^T of JointDistill's connector (spec §2);
#   shared: its finest shared feature (FPN level 0, stride 4), the teacher side of KD4MTL.
teacher_features = dict(
    seg=dict(
        last=dict(type='ModuleInputsRecorder', source='heads.seg.conv_seg'),
        shared=dict(type='ModuleOutputsRecorder', source='neck', index=0)),
    depth=dict(
        last=dict(type='ModuleInputsRecorder', source='heads.depth.conv_seg'),
        shared=dict(type='ModuleOutputsRecorder', source='neck', index=0)))

# Logit KD terms: segmentation = tau^2 * KL(teacher || student) of softmax(z / tau) ('student_teacher' for the
# reverse direction); depth = L1 to the teacher's depth (alternatives: SILogLoss, BerHuLoss).
kd_losses = dict(
    seg=dict(type='TemperatureKLLoss', temperature=1.0, kl_direction='teacher_student', loss_weight=1.0),
    depth=dict(type='DepthL1Loss', loss_weight=1.0))

# Static distillation weights omega_i = 1 on the kd.<teacher> objectives (ground-truth terms: weight 1).
fixed_weighting = dict(type='Fixed', balance='distill', weights={'kd.seg': 1.0, 'kd.depth': 1.0})
