# JointDistill on NYUv2 (MTAN .npy release, 288x384): the joint student of mtl_nyuv2_mtan distilled from the
# two nyuv2_mtan teachers. The method's settings are in configs/_base_/models/jointdistill.py; the teachers in
# configs/_base_/models/teachers_nyuv2_mtan.py.
_base_ = [
    './baselines/mtl_nyuv2_mtan.py', './_base_/models/teachers_nyuv2_mtan.py',
    './_base_/models/jointdistill.py'
]
# The feedback split (feedback_dataloader) is held out of training.
train_dataloader = dict(dataset=dict(holdout=dict(part='train')))

model = dict(
    _delete_=True,
    student=_base_.model,
    teachers=_base_.teachers,
    kd_losses=_base_.kd_losses,
    trajectory=dict(_base_.trajectory_loss, files=_base_.trajectory_files),
    **_base_.jointdistill)

custom_hooks = [
    *_base_.custom_hooks,
    dict(type='FeedbackHook', dataloader=_base_.feedback_dataloader, **_base_.feedback_cfg),
    dict(type='TrajectoryHook', probe_dataloader=_base_.probe_dataloader, interval=20),
]
