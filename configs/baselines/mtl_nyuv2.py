# mtl on NYUv2 (official release, 480x640):
# the joint student on ground truth only (40 classes + in-painted depth in metres).
_base_ = [
    '../_base_/models/joint_student.py', '../_base_/datasets/nyuv2.py',
    '../_base_/schedules/schedule_nyuv2.py', '../_base_/default_runtime.py'
]
# 40 classes; depth up to 10 m: DepthHead's sigmoid range max_depth.
model = dict(heads=dict(seg=dict(num_classes=40), depth=dict(max_depth=10.0)), weighting=dict(type='EW'))
randomness = dict(seed=0)
