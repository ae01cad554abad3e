# mtl on Cityscapes: the joint student on ground truth only (19 classes + metric depth from disparity).
_base_ = [
    '../_base_/models/joint_student.py', '../_base_/datasets/cityscapes.py',
    '../_base_/schedules/schedule_cityscapes.py', '../_base_/default_runtime.py'
]
model = dict(weighting=dict(type='EW'))
randomness = dict(seed=0)
