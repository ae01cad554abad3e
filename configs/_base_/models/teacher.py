# Single-task teacher architecture: ResNet-18 at full width (base 64) with a wider FPN: ~7x the student.
_base_ = ['./joint_student.py']
model = dict(
    backbone=dict(base_channels=64, stem_channels=64),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=128),
    heads=dict(seg=dict(in_channels=128, channels=128), depth=dict(in_channels=128, channels=128)))
