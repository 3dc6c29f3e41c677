"""Typed pipeline configuration, loaded from one YAML file.

Every setting is a field of a frozen dataclass with a documented meaning. Loading
checks every key and type and names the offending key in the error, so a typo
never silently falls back to a default. The sections live by concern:

- `sources`: the tables (interactions, items, users), the split, the features;
- `model`: the model and its settings, training, tuning (which settings each
  family reads: recsearch/model_registry.py);
- `release`: evaluation, serving, the release gate;
- `runtime`: Beam and Kubeflow;
- `pipeline_config`: the whole config, and the part the data steps read;
- `loading` (and `typed`): YAML and JSON to dataclasses, and back;
- `checks`: the checks across keys.
"""

from recsearch.config.loading import (
    config_from_dict,
    from_json,
    load_config,
    to_dict,
    to_json,
    update_config_file,
)
from recsearch.config.model import Model, Task, Training, Tuning
from recsearch.config.pipeline_config import (
    DATA_SECTIONS,
    PipelineConfig,
    data_settings,
    join_path,
)
from recsearch.config.release import Evaluation, Release, Serving
from recsearch.config.runtime import (
    AUTO_MULTI_PROCESSING_BYTES,
    BEAM_DEFAULTS,
    KUBEFLOW_TARGETS,
    Beam,
    Kubeflow,
    Resources,
    available_cores,
)
from recsearch.config.sources import (
    EntitySource,
    Features,
    Format,
    InteractionsSource,
    Source,
    Split,
)

__all__ = [
    "AUTO_MULTI_PROCESSING_BYTES",
    "BEAM_DEFAULTS",
    "DATA_SECTIONS",
    "KUBEFLOW_TARGETS",
    "Beam",
    "EntitySource",
    "Evaluation",
    "Features",
    "Format",
    "InteractionsSource",
    "Kubeflow",
    "Model",
    "PipelineConfig",
    "Release",
    "Resources",
    "Serving",
    "Source",
    "Split",
    "Task",
    "Training",
    "Tuning",
    "available_cores",
    "config_from_dict",
    "data_settings",
    "from_json",
    "join_path",
    "load_config",
    "to_dict",
    "to_json",
    "update_config_file",
]
