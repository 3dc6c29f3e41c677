"""What TFX hands a Trainer or Tuner run besides its settings: the data, and where to write.

`run_fn` and `tuner_fn` turn TFX's `FnArgs` into a `RunInputs` once, as they
parse `custom_config` into `TrainerSettings` once; the functions below them take
these typed values, never `FnArgs`.
"""

from __future__ import annotations

import dataclasses
import os

import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs

from recsearch.modules.fitting import CATALOG_SPLIT, HELDOUT_SPLIT, sibling_split


@dataclasses.dataclass(frozen=True)
class RunInputs:
    """The files and directories of one Trainer (or Tuner) run.

    Attributes:
      train_files: The training split's file patterns.
      catalog_files: The item catalog's (None without one).
      heldout_files: The held-out split's, beside the training data when the
        pipeline refits (None otherwise).
      data_accessor: TFX's reader of those files.
      tft_output: This run's Transform output.
      log_dir: Where the run's logs and records go (the Trainer's model_run_dir,
        the Tuner's working dir).
      base_model: The served model to warm-start from (None on a first run).
      train_steps: A step budget instead of epochs (0: epochs).
    """

    train_files: list[str]
    catalog_files: list[str] | None
    heldout_files: list[str] | None
    data_accessor: DataAccessor
    tft_output: tft.TFTransformOutput
    log_dir: str
    base_model: str | None = None
    train_steps: int = 0

    @classmethod
    def of(cls, fn_args: FnArgs, log_dir: str | None = None) -> RunInputs:
        """The inputs in `fn_args`; `log_dir` (default: its model_run_dir) for the records."""
        base_model = getattr(fn_args, "base_model", None)
        # On a first run the served-model artifact is empty: nothing to start from.
        if base_model and not tf.io.gfile.exists(os.path.join(base_model, "saved_model.pb")):
            base_model = None
        return cls(
            train_files=list(fn_args.train_files),
            catalog_files=sibling_split(fn_args.train_files, CATALOG_SPLIT),
            heldout_files=sibling_split(fn_args.train_files, HELDOUT_SPLIT),
            data_accessor=fn_args.data_accessor,
            tft_output=tft.TFTransformOutput(fn_args.transform_graph_path),
            log_dir=log_dir or fn_args.model_run_dir,
            base_model=base_model,
            train_steps=int(getattr(fn_args, "train_steps", None) or 0),
        )
