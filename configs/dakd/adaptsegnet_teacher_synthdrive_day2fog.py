# The adapted teacher (DAKD's train_gta2cs_multi_drn38.py): AdaptSegNet on the teacher's architecture. Its
# final.pth (the teacher network alone) is what the DAKD configs distil.
_base_ = ['./adaptsegnet_student_synthdrive_day2fog.py']
model = dict(student=_base_.teacher_model)
