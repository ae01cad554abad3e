# Seg teacher on Cityscapes: the larger single-task model.
_base_ = [
    '../_base_/models/teacher.py', '../_base_/datasets/cityscapes.py',
    '../_base_/schedules/schedule_cityscapes.py', '../_base_/default_runtime.py'
]
model = dict(heads=dict(depth=None))
randomness = dict(seed=0)
