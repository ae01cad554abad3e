# Single-task reference on NYUv2 (official release, 480x640):
# the student's architecture trained on seg only (a Δm reference).
_base_ = ['./mtl_nyuv2.py']
model = dict(heads=dict(depth=None))
