# Single-task reference on Cityscapes (MTAN .npy release, 128x256):
# the student's architecture trained on seg only (a Δm reference).
_base_ = ['./mtl_cityscapes_mtan.py']
model = dict(heads=dict(depth=None))
