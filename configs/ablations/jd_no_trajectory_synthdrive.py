# JointDistill without the knowledge-trajectory term.
_base_ = ['../jd_synthdrive.py']
model = dict(trajectory=None)
