# Seg teacher on Cityscapes: the larger single-task model.
_base_ = [
    '../_base_/models/teacher.py', '../_base_/datasets/cityscapes.py',
    '../_base_/schedules/schedule_cityscapes.py', '../_base_/default_runtime.py'
]
model = dict(heads=dict(depth=None))
randomness = dict(seed=0)
# Knowledge trajectory for JointDistill (spec §4): attention maps on 16 probe images at 8 milestones.
custom_hooks = [
    *_base_.custom_hooks,
    dict(type='TrajectoryRecorderHook', num_milestones=8, topk=64, p=2.0, stride=4,
         feature='heads.{task}.conv_seg', feature_io='input', probe=dict(num_images=16, seed=0))
]
