# JointDistill with the cheaper connector of issue 10's per-iteration budget: the fused features at stride 8 (as
# jd_stride8) and the connector's segmentation loss at that resolution (labels picked by nearest neighbour)
# instead of upsampling its 19-class logits to the image; its depth loss stays at the ground truth's resolution
# (one channel: cheap; at the fused resolution depth suffered, jd_stride8_fused_loss_synthdrive.py). The student,
# its losses and the KD terms are those of the default. Cost and accuracy: docs/benchmarks.md, sections 3 and 5.
_base_ = ['../jd_synthdrive.py']
model = dict(connector=dict(stride=8, loss_size=dict(seg='fused')))
