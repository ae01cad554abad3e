# Single-task reference on NYUv2 (MTAN .npy release, 288x384):
# the student's architecture trained on depth only (a Δm reference).
_base_ = ['./mtl_nyuv2_mtan.py']
model = dict(heads=dict(seg=None))
