# Domain Adaptive KD with every term of the official code, its distillation terms computed at each student
# head's own resolution (the teacher's logits resized to it) instead of both networks' logits upsampled to the
# input: the cheaper configured variant for issue 13's per-iteration budget. The student's source CE and the
# adversarial terms stay at the input resolution, as in dakd_all. Cost and accuracy beside dakd_all:
# docs/benchmarks.md, section 8.
_base_ = ['./dakd_all_synthdrive_day2fog.py']
model = dict(distill_resolution='output')
