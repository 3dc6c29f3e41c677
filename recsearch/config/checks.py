"""The config's checks across keys: what fits the task, the model and the runners."""

from __future__ import annotations

import math
import os
import typing

from recsearch import model_registry
from recsearch.config import typed
from recsearch.config.model import Model
from recsearch.config.pipeline_config import PipelineConfig
from recsearch.config.runtime import KUBEFLOW_TARGETS
from recsearch.errors import ConfigError, report

UNTUNABLE = (
    "name",
    "seed",
    "word_vectors",
    "image_backbone",
    "warm_start",
    "warm_start_epochs",
)


def _check_search_space(config: PipelineConfig, fail) -> None:
    """Each searched setting is a scalar model setting; each value fits its type."""
    tuning = config.tuning
    if tuning.max_trials < 0:
        fail("tuning.max_trials", f"must be >= 0, got {tuning.max_trials}")
    if not 0.0 < tuning.validation_fraction < 1.0:
        fail(
            "tuning.validation_fraction",
            f"must be between 0 and 1, got {tuning.validation_fraction}",
        )
    if tuning.max_trials and not tuning.search_space:
        fail("tuning.search_space", "must name at least one model setting when max_trials > 0")
    hints = _setting_types()
    for name, values in tuning.search_space.items():
        key = f"tuning.search_space.{name}"
        if name not in hints or name in UNTUNABLE:
            tunable = sorted(set(hints) - set(UNTUNABLE))
            fail(key, f"is not a setting that can be searched; choose from {tunable}")
            continue
        if typing.get_origin(hints[name]) is tuple:
            fail(key, "is a list setting; only settings with a single value can be searched")
            continue
        if not isinstance(values, tuple) or not values:
            fail(key, f"must be a non-empty list of values, got {values!r}")
            continue
        for i, value in enumerate(values):
            try:
                typed.coerce(hints[name], value, "", f"{key}[{i}]")
            except ConfigError as error:
                fail(f"{key}[{i}]", str(error).split("' ", 1)[1])


def _setting_types() -> dict[str, object]:
    """Every `model.*` setting -> its type: `config.Model`'s own and every family's."""
    own = {k: v for k, v in typing.get_type_hints(Model).items() if k != "settings"}
    return {**own, **model_registry.every_setting()}


def check_model_settings(config: PipelineConfig, raw_model: object, origin: str) -> None:
    """Every `model.*` setting the file gives (and every searched one) is read by the model,
    and each family the run builds can use its values.

    A setting the chosen family does not read would be silently ignored; it is
    an error naming the setting and the settings the family reads. A setting no
    family has is an unknown key. Each family's settings class checks its own
    values (`FamilySettings.problems`).
    """
    types = _setting_types()
    for name in config.model.settings:
        if name not in types:
            known = ", ".join(sorted(types))
            report(ConfigError(f"{origin}: unknown key 'model.{name}' (known keys: {known})"))
    if config.model.name not in (model_registry.AUTO, *model_registry.for_task(config.task)):
        # An unknown model, or one that does not fit the task (check_semantics says so):
        # the values given are still checked by every family that reads them.
        _report_problems(config, tuple(model_registry.FAMILIES), origin, only=config.model.settings)
        return
    content = config.items is not None and bool(config.items.text or config.items.image)
    args = (config.model.name, config.task, content, config.model.ranker)
    reads = model_registry.settings_read(*args)
    given = [(f"model.{k}", k) for k in raw_model or {} if isinstance(raw_model, dict)]
    given += [(f"tuning.search_space.{k}", k) for k in config.tuning.search_space]
    model = repr(config.model.name)
    if config.model.name == model_registry.AUTO:
        compared = [c.name for c in model_registry.CANDIDATES[config.task]]
        model = f"'auto' (which compares {', '.join(compared)} on task {config.task!r})"
    for key, name in given:
        if name in types and name not in reads:
            own = sorted(set(reads) - set(model_registry.TRAINING))
            report(
                ConfigError(
                    f"{origin}: '{key}' does not apply to model {model}, which would ignore "
                    f"it; its own settings are {own} (and the training settings)"
                )
            )
    _report_problems(config, model_registry.families_read(*args), origin)


def _report_problems(
    config: PipelineConfig, families: tuple[str, ...], origin: str, only=None
) -> None:
    """Each value one of `families` cannot use, once (`only`: of these settings alone)."""
    found: dict[str, None] = {}
    for name in families:
        family = model_registry.FAMILIES[name]
        if only is not None and not set(only) & set(family.own):
            continue
        try:
            settings = family.config(config.model, origin)
        except ConfigError as error:
            found.setdefault(str(error))
            continue
        problems = settings.problems()
        for key, message in problems:
            if only is None or key.split("[", 1)[0] in only:
                found.setdefault(f"{origin}: 'model.{key}' {message}")
        for key in family.paths:
            path = getattr(settings, key)
            if path and "://" not in path and not os.path.isfile(config.resolve(path)):
                found.setdefault(
                    f"{origin}: 'model.{key}' names a file that does not exist: "
                    f"{config.resolve(path)}"
                )
    for message in found:
        report(ConfigError(message))


def _check_ranker(config: PipelineConfig, fail) -> None:
    """A ranking stage is a pair network, on a task two stages serve, over N >= top_k."""
    ranker = config.model.ranker
    if ranker is None:
        return
    if ranker not in model_registry.RANKERS:
        fail("model.ranker", f"must be one of {list(model_registry.RANKERS)}, got {ranker!r}")
    if config.task not in model_registry.TWO_STAGE_TASKS:
        fail(
            "model.ranker",
            f"needs task {' or '.join(map(repr, model_registry.TWO_STAGE_TASKS))} "
            f"(two stages rank a catalog), got {config.task!r}",
        )
    if config.model.name in model_registry.RANKERS:
        fail(
            "model.ranker",
            f"needs a retrieval model as model.name, got the pair network {config.model.name!r}",
        )
    if config.model.freshness and config.interactions.timestamp is None:
        fail(
            "model.freshness",
            "needs interactions.timestamp: an item's age is read from the interactions' times",
        )
    if config.model.rerank_depth < config.serving.top_k:
        fail(
            "model.rerank_depth",
            f"must be at least serving.top_k ({config.serving.top_k}), "
            f"got {config.model.rerank_depth}",
        )


def check_semantics(config: PipelineConfig, origin: str) -> None:
    def fail(key: str, message: str) -> None:
        report(ConfigError(f"{origin}: '{key}' {message}"))

    weights = config.interactions.event_weights
    if weights and not config.interactions.event:
        fail("interactions.event_weights", "needs interactions.event, the event type column")
    for event, weight in weights.items():
        if not math.isfinite(weight) or weight < 0:
            fail(f"interactions.event_weights.{event}", f"must be a number >= 0, got {weight!r}")
    if not config.name.replace("-", "").replace("_", "").isalnum():
        fail("name", f"must use letters, digits, '-' and '_' only, got {config.name!r}")
    if not 0.0 < config.split.eval_fraction < 1.0:
        fail("split.eval_fraction", f"must be between 0 and 1, got {config.split.eval_fraction}")
    if config.task == "rating" and not config.interactions.rating:
        fail("interactions.rating", "must name the rating column when task is 'rating'")
    if config.split.method == "temporal" and not config.interactions.timestamp:
        fail(
            "interactions.timestamp",
            "must name a column when split.method is 'temporal' "
            "(or leave split.method 'auto': random without a timestamp)",
        )
    if config.task == "sequential" and config.split.method != "temporal":
        fail("split.method", "must be 'temporal' when task is 'sequential' (the next item)")
    fitting = model_registry.for_task(config.task)
    if config.model.name != model_registry.AUTO and config.model.name not in fitting:
        if config.model.name not in model_registry.FAMILIES:
            fail(
                "model.name",
                f"is not a model: {config.model.name!r}; choose 'auto' or one of "
                f"{list(model_registry.FAMILIES)}",
            )
        else:
            fail(
                "model.name",
                f"{config.model_name!r} does not fit task {config.task!r}; "
                f"choose one of {fitting}",
            )
    elif (
        config.serving.index == "scann"
        and not model_registry.family(config.model_name).inner_product
    ):
        fail(
            "serving.index",
            f"'scann' cannot search {config.model_name!r}: it does not score by an inner "
            "product of stored vectors (a network over the pair, or EASE's sparse item-item "
            "rows); use 'auto' or 'brute_force'",
        )
    _check_ranker(config, fail)
    top_k_metrics = ("recall", "ndcg", "mrr", "hit_rate")
    metrics_for_task = {
        "rating": ("rmse", "mae"),
        "retrieval": top_k_metrics,
        "ranking": (*top_k_metrics, "auc", "log_loss"),
        "sequential": top_k_metrics,
    }
    _check_search_space(config, fail)
    if config.eval_metric not in metrics_for_task[config.task]:
        fail("evaluation.metric", f"{config.eval_metric!r} does not fit task {config.task!r}")
    positive = {
        "model.batch_size": config.model.batch_size,
        "model.epochs": config.model.epochs,
        "model.learning_rate": config.model.learning_rate,
        "evaluation.top_k": config.evaluation.top_k,
        "serving.top_k": config.serving.top_k,
        "release.keep_versions": config.release.keep_versions,
        "release.keep_runs": config.release.keep_runs,
        "interactions.span_window": config.interactions.span_window,
        "features.min_frequency": config.features.min_frequency,
        "features.oov_buckets": config.features.oov_buckets,
        "features.hash_buckets": config.features.hash_buckets,
        "features.text_max_tokens": config.features.text_max_tokens,
        "features.text_vocab_size": config.features.text_vocab_size,
        "features.image_size": config.features.image_size,
    }
    if config.model.max_examples is not None:
        positive["model.max_examples"] = config.model.max_examples
    if config.evaluation.max_users is not None:
        positive["evaluation.max_users"] = config.evaluation.max_users
    for key, value in positive.items():
        if value <= 0:
            fail(key, f"must be positive, got {value}")
    if config.model.warm_start_epochs < 0:
        fail(
            "model.warm_start_epochs",
            f"must not be negative, got {config.model.warm_start_epochs}",
        )
    if config.evaluation.tolerance < 0:
        fail("evaluation.tolerance", f"must not be negative, got {config.evaluation.tolerance}")
    if not 0.5 < config.evaluation.confidence < 1.0:
        fail(
            "evaluation.confidence",
            f"must be above 0.5 and below 1, got {config.evaluation.confidence}",
        )
    if config.kubeflow.target not in KUBEFLOW_TARGETS:
        fail(
            "kubeflow.target",
            f"must be one of {list(KUBEFLOW_TARGETS)}, got {config.kubeflow.target!r}",
        )
    for pool in ("trainer", "components"):
        resources = getattr(config.kubeflow, pool)
        key = f"kubeflow.{pool}"
        if resources.replicas < 1:
            fail(f"{key}.replicas", f"must be at least 1, got {resources.replicas}")
        if resources.cpu < 0 or resources.memory_gb < 0 or resources.accelerator_count < 0:
            fail(key, "cpu, memory_gb and accelerator_count must not be negative")
        for i, label in enumerate(resources.node_selector):
            if "=" not in label:
                fail(f"{key}.node_selector[{i}]", f"must be key=value, got {label!r}")
    required = {
        "DataflowRunner": ("--project", "--region", "--temp_location"),
        "FlinkRunner": ("--flink_master",),
        "SparkRunner": ("--spark_master_url",),
    }.get(config.beam.runner, ())
    for flag in required:
        if not any(arg.startswith(flag + "=") for arg in config.beam.extra_args):
            fail("beam.extra_args", f"needs {flag}=... for runner {config.beam.runner}")
    if config.kubeflow.components.replicas != 1:
        fail("kubeflow.components.replicas", "only the trainer has replicas")
    if config.kubeflow.trainer.replicas > 1 and config.training.strategy not in (
        "multi_worker_mirrored",
        "parameter_server",
    ):
        fail(
            "kubeflow.trainer.replicas",
            "above 1 needs training.strategy " "multi_worker_mirrored or parameter_server",
        )
    for i, cross in enumerate(config.features.crosses):
        if len(cross) != 2:
            fail(f"features.crosses[{i}]", f"must name two features, got {list(cross)}")
