# JointDistill with the cheaper connector of issue 10's per-iteration budget: the fused features at stride 8 (as
# jd_stride8) and the connector's ground-truth losses at that resolution (labels and depth picked by nearest
# neighbour) instead of upsampling its predictions to the image. The student, its losses and the KD terms are
# those of the default. Cost and accuracy beside the default: docs/benchmarks.md, sections 3 and 5.
_base_ = ['../jd_synthdrive.py']
model = dict(connector=dict(stride=8, loss_size='fused'))
