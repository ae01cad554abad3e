# Single-task reference: the student's architecture trained on depth only (a Δm reference).
_base_ = ['./mtl_synthdrive.py']
model = dict(heads=dict(seg=None))
