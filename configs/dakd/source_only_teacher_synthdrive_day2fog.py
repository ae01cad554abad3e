# Source-only teacher (for comparison with the adapted one): the larger multi-level teacher trained on the
# labelled source alone; evaluated on the target.
_base_ = ['./source_only_student_synthdrive_day2fog.py']
model = _base_.teacher_model
