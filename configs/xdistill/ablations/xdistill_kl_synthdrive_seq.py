# Ablation, loss form: KL to the teacher's grouped soft output instead of CE to the group of its argmax class.
_base_ = ['../xdistill_synthdrive_seq.py']
model = dict(xd_loss=dict(mode='kl'))
