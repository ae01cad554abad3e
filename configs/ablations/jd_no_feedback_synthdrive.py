# JointDistill without feedback weights: omega fixed at 1 (FeedbackHook then stays idle). The feedback split
# stays held out, so the training images are those of jd_synthdrive.
_base_ = ['../jd_synthdrive.py']
model = dict(weighting=dict(_delete_=True, type='Fixed', balance='distill', weights={'kd.seg': 1.0, 'kd.depth': 1.0}))
