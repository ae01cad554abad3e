# JointDistill without the connector: the KD targets are the teachers' own outputs (as in kd_static).
_base_ = ['../jd_synthdrive.py']
model = dict(connector=None)
