"""The Evaluator component with recsearch's executor (see executor.py)."""

from __future__ import annotations

from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from recsearch.components.evaluator import executor


class Evaluator(tfx.components.Evaluator):
    """TFX's Evaluator; a baseline artifact with no model in it counts as no baseline."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
