# mtl: the joint student trained on ground truth only, both task losses with equal weight.
_base_ = [
    '../_base_/models/joint_student.py', '../_base_/datasets/synthdrive.py',
    '../_base_/schedules/schedule_synthdrive.py', '../_base_/default_runtime.py'
]
model = dict(weighting=dict(type='EW'))
randomness = dict(seed=0)
