"""Render SynthDrive sequences (video with LiDAR-like scans, exact depth, labels and poses) in the KITTI raw
layout.

Example::

    python tools/dataset_converters/synthdrive_seq.py --out data/synthdrive_seq --num-sequences 40 --frames 30
"""
import argparse

from mmengine.logging import MMLogger

from jdbench.datasets.synthdrive import STYLES
from jdbench.datasets.synthdrive.kitti_writer import render_sequences


def parse_args() -> argparse.Namespace:
    """Command-line arguments: output folder, sequence and frame counts, size, seed, style, splits."""
    parser = argparse.ArgumentParser(description='Render SynthDrive sequences (KITTI raw layout).')
    parser.add_argument('--out', required=True, help='output directory (the KITTI raw root)')
    parser.add_argument('--num-sequences', type=int, required=True, help='number of drives')
    parser.add_argument('--frames', type=int, required=True, help='frames per drive (>= 3)')
    parser.add_argument('--size', type=int, nargs=2, default=(128, 416), metavar=('H', 'W'),
                        help='image height and width (default: 128 416)')
    parser.add_argument('--seed', type=int, default=0, help='dataset seed (default: 0)')
    parser.add_argument('--style', default='day', choices=sorted(STYLES),
                        help='appearance style (default: day)')
    parser.add_argument('--num-val', type=int, default=None, help='val drives (default: 10%%, at least 1)')
    parser.add_argument('--num-test', type=int, default=None, help='test drives (default: 10%%, at least 1)')
    parser.add_argument('--split-name', default='synthdrive', help='splits/<name>/ (default: synthdrive)')
    parser.add_argument('--drives-per-date', type=int, default=10,
                        help='drives sharing one date folder and calibration (default: 10)')
    return parser.parse_args()


def main() -> None:
    """Render the drives and print the throughput."""
    args = parse_args()
    logger = MMLogger.get_instance('synthdrive_seq', log_level='INFO')
    summary = render_sequences(args.out, args.num_sequences, args.frames, size=tuple(args.size),
                               seed=args.seed, style=args.style, num_val=args.num_val, num_test=args.num_test,
                               split_name=args.split_name, drives_per_date=args.drives_per_date,
                               logger=logger)
    print(f"{summary['frames_per_s']:.1f} frames/s ({summary['num_frames_total']} frames in "
          f"{summary['seconds']:.2f} s; {summary['frames_per_cpu_s']:.1f} frames per CPU second)")


if __name__ == '__main__':
    main()
