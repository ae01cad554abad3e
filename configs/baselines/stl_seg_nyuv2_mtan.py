# Single-task reference on NYUv2 (MTAN .npy release, 288x384):
# the student's architecture trained on seg only (a Δm reference).
_base_ = ['./mtl_nyuv2_mtan.py']
model = dict(heads=dict(depth=None))
