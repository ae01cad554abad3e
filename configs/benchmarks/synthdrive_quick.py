# The quick SynthDrive suite: `tools/benchmark.py configs/benchmarks/synthdrive.py --quick` as its own config
# (the `quick` overrides of synthdrive.py applied): same methods, a few iterations on tiny data.
_base_ = ['./synthdrive.py']
apply_quick = True
