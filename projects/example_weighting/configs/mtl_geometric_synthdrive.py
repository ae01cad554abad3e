# The joint student on SynthDrive ground truth, task losses balanced by the plugin's geometric-mean strategy.
_base_ = ['../../../configs/baselines/mtl_synthdrive.py']
custom_imports = dict(imports=['projects.example_weighting.geometric_weighting'], allow_failed_imports=False)
model = dict(weighting=dict(type='GeometricMean'))
