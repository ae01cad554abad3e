# mtl on Cityscapes (MTAN .npy release, 128x256):
# the joint student on ground truth only (7 classes + inverse depth).
_base_ = [
    '../_base_/models/joint_student.py', '../_base_/datasets/cityscapes_mtan.py',
    '../_base_/schedules/schedule_cityscapes.py', '../_base_/default_runtime.py'
]
# 7 classes; inverse depth (the release's values reach ~0.49): DepthHead's sigmoid range max_depth.
model = dict(heads=dict(seg=dict(num_classes=7), depth=dict(max_depth=1.0)), weighting=dict(type='EW'))
randomness = dict(seed=0)
