"""Executor of the Evaluator: TFX's, with the served baseline dropped when there is none.

ServedModel always emits a Model artifact (KFP has no optional outputs); on a
first run it is empty, and TFX's Evaluator would try to load it. Dropping it
here gives TFX's own first-run behaviour: change thresholds are skipped.
"""

from __future__ import annotations

import logging

from tfx import types
from tfx.components.evaluator import executor as tfx_evaluator
from tfx.types import standard_component_specs

from recsearch.components.executor_types import Artifacts, Props
from recsearch.components.served_model.executor import is_present

BASELINE = standard_component_specs.BASELINE_MODEL_KEY


def without_empty_baseline(
    input_dict: dict[str, list[types.Artifact]],
) -> dict[str, list[types.Artifact]]:
    """`input_dict` without the baseline when its artifact holds no model."""
    baselines = input_dict.get(BASELINE) or []
    if baselines and all(is_present(b.uri) for b in baselines):
        return input_dict
    if baselines:
        logging.info("Evaluator: nothing is served yet; judging the candidate alone")
    return {k: v for k, v in input_dict.items() if k != BASELINE}


class Executor(tfx_evaluator.Executor):
    def Do(self, input_dict: Artifacts, output_dict: Artifacts, exec_properties: Props) -> None:
        super().Do(without_empty_baseline(input_dict), output_dict, exec_properties)
