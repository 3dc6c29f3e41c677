"""The Evaluator component with recsearch's executor (see executor.py) and extractors."""

from __future__ import annotations

from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from recsearch.components.evaluator import executor

# TFX imports `custom_extractors` from here (extractors.py).
EXTRACTORS_MODULE = "recsearch.components.evaluator.extractors"


class Evaluator(tfx.components.Evaluator):
    """TFX's Evaluator; a baseline artifact with no model in it counts as no baseline,
    and each batch is cut to what the metrics read before examples are grouped by user."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, **kwargs):
        super().__init__(module_path=EXTRACTORS_MODULE, **kwargs)
