"""Render the SynthDrive dataset in the Cityscapes layout (or, with ``--layout gta5``, the GTA5 layout).

Example::

    python tools/dataset_converters/synthdrive.py --out data/synthdrive --num-train 2000 --num-val 300
    python tools/dataset_converters/synthdrive.py --out data/synthdrive_gta5_day --num-train 2000 \
        --num-val 300 --layout gta5 --city A --style day
"""
import argparse

from mmengine.logging import MMLogger

from jdbench.datasets.synthdrive import CITIES, STYLES, generate_synthdrive


def parse_args() -> argparse.Namespace:
    """Command-line arguments: output folder, image counts, size, seed, style, city, layout."""
    parser = argparse.ArgumentParser(description='Render SynthDrive (Cityscapes or GTA5 layout).')
    parser.add_argument('--out', required=True, help='output directory (the dataset root)')
    parser.add_argument('--num-train', type=int, required=True, help='number of training images')
    parser.add_argument('--num-val', type=int, required=True, help='number of validation images')
    parser.add_argument('--size', type=int, nargs=2, default=(128, 256), metavar=('H', 'W'),
                        help='image height and width (default: 128 256)')
    parser.add_argument('--seed', type=int, default=0, help='dataset seed (default: 0)')
    parser.add_argument('--style', default='day', choices=sorted(STYLES),
                        help='appearance style (default: day)')
    parser.add_argument('--city', default='A', choices=sorted(CITIES),
                        help='city layout: street geometry, camera height, object densities (default: A)')
    parser.add_argument('--layout', default='cityscapes', choices=('cityscapes', 'gta5'),
                        help='file layout: cityscapes (train IDs, depth, camera) or gta5 (images/, labels/ '
                             'in Cityscapes label IDs, train.txt, val.txt; no depth) (default: cityscapes)')
    return parser.parse_args()


def main() -> None:
    """Render the dataset and print the throughput."""
    args = parse_args()
    logger = MMLogger.get_instance('synthdrive', log_level='INFO')
    summary = generate_synthdrive(args.out, args.num_train, args.num_val, size=tuple(args.size),
                                  seed=args.seed, style=args.style, logger=logger, city=args.city,
                                  layout=args.layout)
    print(f"{summary['images_per_s']:.1f} images/s ({summary['num_images']} images in "
          f"{summary['seconds']:.2f} s; {summary['images_per_cpu_s']:.1f} images per CPU second)")


if __name__ == '__main__':
    main()
