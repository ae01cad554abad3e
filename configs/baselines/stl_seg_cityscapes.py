# Single-task reference on Cityscapes: the student's architecture trained on seg only (a Δm reference).
_base_ = ['./mtl_cityscapes.py']
model = dict(heads=dict(depth=None))
