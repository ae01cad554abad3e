# Depth teacher: the larger single-task model, trained on SynthDrive depth.
_base_ = [
    '../_base_/models/teacher.py', '../_base_/datasets/synthdrive.py',
    '../_base_/schedules/schedule_synthdrive.py', '../_base_/default_runtime.py'
]
model = dict(heads=dict(seg=None))
randomness = dict(seed=0)
