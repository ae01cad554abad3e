# Domain Adaptive KD, paradigm 'output_source' (jdbench's hypothesis for the paper's four paradigms,
# docs/methods.md): distil the output level only (KL, pseudo-label CE) on the source domain; the student's
# source CE and adversarial terms as in every DAKD config.
_base_ = ['./dakd_all_synthdrive_day2fog.py']
model = dict(paradigm='output_source')
