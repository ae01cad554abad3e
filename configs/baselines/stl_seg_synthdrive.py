# Single-task reference: the student's architecture trained on segmentation only (a Δm reference).
_base_ = ['./mtl_synthdrive.py']
model = dict(heads=dict(depth=None))
