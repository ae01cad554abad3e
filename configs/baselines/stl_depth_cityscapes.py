# Single-task reference on Cityscapes: the student's architecture trained on depth only (a Δm reference).
_base_ = ['./mtl_cityscapes.py']
model = dict(heads=dict(seg=None))
