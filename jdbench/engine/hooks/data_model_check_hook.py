"""Fail early, with a clear message, when the data and the model do not fit together."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from jdbench.registry import HOOKS


@HOOKS.register_module()
class DataModelCheckHook(Hook):
    """Before training/testing: every segmentation head's class count equals the dataset's class count."""

    priority = 'VERY_HIGH'

    def _check(self, runner, loader) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        model = getattr(model, 'student', model)
        classes = loader.dataset.metainfo.get('classes') if loader is not None else None
        if not classes or not hasattr(model, 'num_classes'):
            return
        for task, n in model.num_classes.items():
            if n != len(classes):
                raise ValueError(
                    f'class-count mismatch: head {task!r} predicts {n} classes but the dataset '
                    f'{type(loader.dataset).__name__} has {len(classes)} ({", ".join(classes[:8])}...). '
                    f'Set model.heads.{task}.num_classes={len(classes)} or choose the matching label set '
                    'in the dataset config.')

    def before_train(self, runner) -> None:
        self._check(runner, runner.train_dataloader)

    def before_test(self, runner) -> None:
        self._check(runner, runner.test_dataloader)
