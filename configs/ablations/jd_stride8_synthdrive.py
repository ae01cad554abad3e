# JointDistill with the connector at stride 8 (a quarter of the pixels of the default, the student's finest head
# input at stride 4): the configured cheaper variant for the per-iteration budget (issue 10). The teachers'
# features are resized to input/8, the fused predictions are upsampled to the student's outputs for the KD terms.
# Accuracy beside the default: docs/benchmarks.md, section 3.
_base_ = ['../jd_synthdrive.py']
model = dict(connector=dict(stride=8))
