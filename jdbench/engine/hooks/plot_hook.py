"""Draw the run's training curves and loss weights ω as PNGs in the work dir after training."""
import json
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.dist import master_only
from mmengine.hooks import Hook

from jdbench.registry import HOOKS


@HOOKS.register_module()
class TrainingPlotHook(Hook):
    """After training, plot what the run logged (all timestamps, so resumed runs are whole):

    * ``loss_curves.png``: total loss and every ``<objective>.<term>`` loss over iterations;
    * ``omega.png``: the loss weights ``w.<objective>`` (JointDistill's ω, or any weighting strategy's), taken
      from the scalars, else from ``omega_history.json`` when the feedback hook wrote one;
    * ``val_metrics.png``: validation ``mIoU`` / ``abs_err`` / ``delta_m`` over iterations, when validated.

    Reads ``{work_dir}/*/vis_data/scalars.json`` (mmengine's ``LocalVisBackend``); without it, draws nothing.

    Args:
        interval (int, optional): also redraw every ``interval`` training iterations (None: only at the end).
        out_dir (str, optional): where to write; defaults to the work dir.
        figsize (tuple): inches; the PNGs are ``figsize × dpi`` pixels.
        dpi (int): resolution.
        val_keys (sequence[str]): validation metrics to plot.
    """

    priority = 'VERY_LOW'  # after the logger hook has written the last scalars

    def __init__(self,
                 interval: Optional[int] = None,
                 out_dir: Optional[str] = None,
                 figsize: Sequence[float] = (8.0, 5.0),
                 dpi: int = 100,
                 val_keys: Sequence[str] = ('mIoU', 'abs_err', 'delta_m')) -> None:
        self.interval, self.out_dir = interval, out_dir
        self.figsize, self.dpi, self.val_keys = tuple(figsize), dpi, tuple(val_keys)
        self.written: List[str] = []

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.interval and self.every_n_train_iters(runner, self.interval):
            self.draw(runner.work_dir, runner.logger)

    def after_train(self, runner) -> None:
        self.draw(runner.work_dir, runner.logger)
        if self.written:
            runner.logger.info('training plots written: ' + ', '.join(self.written))

    @master_only
    def draw(self, work_dir: str, logger=None) -> List[str]:
        """Draw every plot there is data for; returns the files written."""
        from jdbench.utils.scalars import read_scalars
        from jdbench.visualization.curves import (omega_records, plot_training_curves, plot_val_metrics,
                                                  plot_weights)
        out = self.out_dir or work_dir
        records = read_scalars(work_dir)
        size = dict(figsize=self.figsize, dpi=self.dpi)
        written = [
            plot_training_curves(records, osp.join(out, 'loss_curves.png'), **size),
            plot_val_metrics(records, osp.join(out, 'val_metrics.png'), self.val_keys, **size)
        ]
        omega = plot_weights(records, osp.join(out, 'omega.png'), **size)
        history = osp.join(work_dir, 'omega_history.json')
        if omega is None and osp.isfile(history):
            try:
                with open(history) as f:
                    omega = plot_weights(omega_records(json.load(f)), osp.join(out, 'omega.png'), **size)
            except (OSError, ValueError) as err:
                if logger is not None:
                    logger.warning(f'TrainingPlotHook: could not read {history}: {err}')
        self.written = [p for p in written + [omega] if p]
        return self.written
