# Depth teacher on NYUv2 (official release, 480x640): the larger single-task model.
_base_ = [
    '../_base_/models/teacher.py', '../_base_/datasets/nyuv2.py',
    '../_base_/schedules/schedule_nyuv2.py', '../_base_/default_runtime.py', '../_base_/trajectory.py'
]
model = dict(heads=dict(depth=dict(max_depth=10.0), seg=None))
randomness = dict(seed=0)
# Knowledge trajectory (JointDistill, docs/methods.md): the attention maps of the probe set at K milestones of
# this training, top-k essential points per image, written to {work_dir}/trajectory.pth beside the
# checkpoints.
custom_hooks = [
    *_base_.custom_hooks,
    dict(type='TrajectoryRecorderHook', probe_dataloader=_base_.probe_dataloader, **_base_.trajectory_cfg),
]
