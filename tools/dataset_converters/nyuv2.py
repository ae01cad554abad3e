"""Convert the official NYU Depth v2 labelled release into the per-image PNG files NYUv2Dataset reads.

Example::

    python tools/dataset_converters/nyuv2.py data/nyuv2/nyu_depth_v2_labeled.mat data/nyuv2/splits.mat \
        --out data/nyuv2

(``classMapping40.mat``, the published 894 -> 40 class mapping, is read from beside ``splits.mat`` or
``--mapping``) writes ``{images,labels,depths,raw_depths}/{train,test}/NNNN.png`` (NNNN = the 1-based index in the release):
8-bit colour images, 16-bit 894-class ids (0 = unlabelled) and 16-bit depth in millimetres (0 = invalid). The
``.mat`` file is read one image at a time (MATLAB v7.3 with h5py; a v5 file needs scipy and is read whole).
See docs/datasets.md.
"""
import argparse
import os.path as osp
import sys

from mmengine.logging import MMLogger

from jdbench.datasets.nyuv2 import convert_nyuv2


def parse_args() -> argparse.Namespace:
    """Command-line arguments: the two release files and the output folder."""
    parser = argparse.ArgumentParser(
        description='Convert NYUv2 (nyu_depth_v2_labeled.mat + splits.mat) into per-image PNG files.')
    parser.add_argument('labeled', help='nyu_depth_v2_labeled.mat (MATLAB v7.3)')
    parser.add_argument('splits', help='splits.mat (trainNdxs / testNdxs, from ankurhanda/nyuv2-meta-data)')
    parser.add_argument('--mapping', default=None,
                        help='classMapping40.mat (the 894 -> 40 class mapping, from ankurhanda/nyuv2-meta-data); '
                        'default: beside splits.mat')
    parser.add_argument('--out', default=None,
                        help='output folder, the dataset root (default: the folder of the .mat file)')
    return parser.parse_args()


def main() -> int:
    """Convert, or print what is wrong with the inputs and exit with status 1."""
    args = parse_args()
    out = args.out if args.out is not None else osp.dirname(osp.abspath(args.labeled))
    logger = MMLogger.get_instance('nyuv2_convert', log_level='INFO')
    try:
        sizes = convert_nyuv2(args.labeled, args.splits, out, logger=logger, mapping_path=args.mapping)
    except (FileNotFoundError, FileExistsError, ValueError, ImportError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'done: {", ".join(f"{k} {v}" for k, v in sizes.items())} images in {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
