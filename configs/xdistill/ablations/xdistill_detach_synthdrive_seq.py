# Control: the translator still learns from the teacher, but no gradient reaches the depth net through it
# (detach_input). Any difference to Monodepth2 is then not the cross-task term's doing (only the extra random
# draws of the translator's initialisation differ).
_base_ = ['../xdistill_synthdrive_seq.py']
model = dict(translator=dict(detach_input=True))
