# JointDistill with the other reading of the feedback target (docs/methods.md): mode='gap' uses 1 / a_i, so omega
# grows for the task where the student lags its teacher most (the default 'ratio' favours the task it is closest on).
_base_ = ['../jd_synthdrive.py']
model = dict(weighting=dict(mode='gap'))
