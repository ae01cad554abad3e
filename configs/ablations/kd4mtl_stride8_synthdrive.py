# KD4MTL distilled at the student's FPN level 1 (stride 8) from the teachers' FPN level 1, instead of level 0
# (stride 4): a quarter of the pixels for the adaptors and the normalised feature losses. The configured cheaper
# variant for the per-iteration budget (issue 10); accuracy beside the default: docs/benchmarks.md, section 3.
_base_ = ['../baselines/kd4mtl_synthdrive.py']
_shared_l1 = dict(shared=dict(type='ModuleOutputsRecorder', source='neck', index=1))
model = dict(
    student_feature_index=1,
    teachers=dict(seg=dict(features=_shared_l1), depth=dict(features=_shared_l1)))
