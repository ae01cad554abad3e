# Domain Adaptive KD with every term of the official code (train_gta2cs_ts_multi.py): all four paradigms on,
# i.e. the intermediate level (KL, MSE) and the output level (KL, pseudo-label CE) distilled on the source and
# the target (weight target_distill), plus the student's source CE and adversarial terms. The teacher is the
# adapted one: train it first,
#   python tools/train.py configs/dakd/adaptsegnet_teacher_synthdrive_day2fog.py
# or point model.teachers.seg.checkpoint at its final.pth (configs/dakd/source_only_teacher_*.py for a
# source-only teacher: set model.teachers.seg.config to that config as well).
_base_ = [
    '../_base_/models/dakd_synthdrive.py', '../_base_/datasets/synthdrive_day2fog.py',
    './_base_/schedule_synthdrive_adapt.py', '../_base_/default_runtime.py'
]
model = dict(
    _base_.dakd,
    student=_base_.student_model,
    teachers=dict(
        seg=dict(
            type='MultiLevelTeacher',
            config='configs/dakd/adaptsegnet_teacher_synthdrive_day2fog.py',
            checkpoint='work_dirs/adaptsegnet_teacher_synthdrive_day2fog/final.pth')))
randomness = dict(seed=0)
