# Single-task teacher architecture: ResNet-18 at half width (base 32) with a wider FPN (96 channels):
# about 3.4x the student's parameters. It is trained for longer than the students (see the suite configs).
_base_ = ['./joint_student.py']
model = dict(
    backbone=dict(base_channels=32, stem_channels=32),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=96),
    heads=dict(seg=dict(in_channels=96, channels=96), depth=dict(in_channels=96, channels=96)))
