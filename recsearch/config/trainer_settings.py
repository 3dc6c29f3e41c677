"""What the Trainer and the Tuner read, typed: written by the pipeline, parsed once by run_fn.

TFX hands `run_fn` and `tuner_fn` a `custom_config` of plain JSON (it is
recorded in ML Metadata, and on Kubeflow it is a runtime parameter a client may
rewrite, `kubeflow/client.py`). This module is both ends of that wire:
`TrainerSettings.from_config` builds it from the pipeline config,
`to_custom_config` writes it, and `TrainerSettings.parse` reads it back, with
the Tuner's best values over the model settings, every key and type checked as
the config file's are. Below `run_fn` and `tuner_fn`, functions take these
typed values; nothing reads the dict again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from recsearch.config import typed
from recsearch.config.model import Model, Task, Training, Tuning
from recsearch.config.pipeline_config import PipelineConfig
from recsearch.config.release import Serving
from recsearch.errors import ConfigError
from recsearch.features import FeatureSpec

ORIGIN = "the Trainer's custom_config"


@dataclasses.dataclass(frozen=True)
class Judging:
    """How a model is judged on held-out interactions: the blessing metric at K.

    Attributes:
      task: The pipeline's task.
      eval_metric: The blessing metric (`evaluation.metric`, or "rmse"-like for ratings).
      top_k: K of the metric.
      temporal: Whether each user's latest interactions are held out (else a
        random share, as the random split does).
    """

    task: Task
    eval_metric: str
    top_k: int
    temporal: bool = True

    @property
    def label(self) -> str:
        """The metric as the terminal and `selection.json` name it."""
        return "-rmse" if self.task == "rating" else f"{self.eval_metric}@{self.top_k}"


@dataclasses.dataclass(frozen=True)
class TrainerSettings:
    """The Trainer's settings.

    Attributes:
      features: The feature specification.
      model_name: The family to train, or "auto" (the Trainer measures).
      model: The model settings (with the Tuner's best values over them, once parsed).
      serving: What the exported bundle answers (top-K, exclusion, the index).
      training: The distribution strategy.
      judging: How candidates and trials are judged.
      refit: Train again on train + held-out for the bundle that is pushed.
      refit_epochs: Epochs of that refit from the candidate's weights (0: from scratch).
      tuning: The search (the Tuner's settings only).
      accelerator: The device the Kubeflow step asked for (checked at start).
    """

    features: FeatureSpec
    model_name: str
    model: Model
    serving: Serving
    training: Training
    judging: Judging
    refit: bool = True
    refit_epochs: int = 0
    tuning: Tuning | None = None
    accelerator: str | None = None

    @classmethod
    def from_config(cls, config: PipelineConfig, tuner: bool = False) -> TrainerSettings:
        """The Trainer's settings (`tuner`: the Tuner's) from the pipeline config."""
        from recsearch import model_registry

        model = config.model
        # Files named by family settings (pretrained word vectors, an image backbone)
        # are resolved against the config's directory.
        paths = {key for family in model_registry.FAMILIES.values() for key in family.paths}
        settings = {
            k: config.resolve(v) if k in paths and isinstance(v, str) and v else v
            for k, v in model.settings.items()
        }
        model = dataclasses.replace(model, settings=settings)
        return cls(
            features=FeatureSpec.from_config(config),
            # "auto" is resolved by the Trainer, by measuring (modules/selection.py); the
            # search tunes one family: with "auto", the family auto would start from.
            model_name=config.model_name if tuner else config.model.name,
            model=model,
            serving=config.serving,
            training=config.training,
            judging=Judging(
                task=config.task,
                eval_metric=config.eval_metric,
                top_k=config.evaluation.top_k,
                temporal=config.split.method == "temporal",
            ),
            refit=config.release.refit,
            refit_epochs=config.release.refit_epochs,
            tuning=config.tuning if tuner else None,
        )

    def to_custom_config(self) -> dict[str, Any]:
        """The JSON-able `custom_config` TFX records in ML Metadata with every run."""
        plain = {
            "features": self.features.to_json(),
            "model_name": self.model_name,
            "model": _plain(self.model),
            "serving": _plain(self.serving),
            "training": _plain(self.training),
            "task": self.judging.task,
            "refit": self.refit,
            "refit_epochs": self.refit_epochs,
            "eval_metric": self.judging.eval_metric,
            "top_k": self.judging.top_k,
            "split_method": "temporal" if self.judging.temporal else "random",
        }
        if self.tuning is not None:
            plain["tuning"] = _plain(self.tuning)
        if self.accelerator is not None:
            plain["accelerator"] = self.accelerator
        return plain

    @classmethod
    def parse(
        cls, custom_config: Mapping[str, Any], tuned: Mapping[str, Any] | None = None
    ) -> TrainerSettings:
        """The settings in a `custom_config`, with `tuned` values over the model settings.

        Raises:
          ConfigError: A key is missing or unknown, or a value has the wrong type;
            the message names it.
        """
        raw = dict(custom_config)
        try:
            task = raw["task"]
            judging = Judging(
                task=typed.coerce(Task, task, ORIGIN, "task"),
                eval_metric=typed.coerce(str, raw["eval_metric"], ORIGIN, "eval_metric"),
                top_k=typed.coerce(int, raw["top_k"], ORIGIN, "top_k"),
                temporal=raw.get("split_method", "temporal") == "temporal",
            )
            return cls(
                features=FeatureSpec.from_json(raw["features"]),
                model_name=typed.coerce(str, raw["model_name"], ORIGIN, "model_name"),
                model=with_values(typed.build(Model, raw["model"], ORIGIN, "model"), tuned or {}),
                serving=typed.build(Serving, raw["serving"], ORIGIN, "serving"),
                training=typed.build(Training, raw.get("training", {}), ORIGIN, "training"),
                judging=judging,
                refit=bool(raw.get("refit", False)),
                refit_epochs=typed.coerce(int, raw.get("refit_epochs", 0), ORIGIN, "refit_epochs"),
                tuning=typed.build(Tuning, raw["tuning"], ORIGIN, "tuning")
                if "tuning" in raw
                else None,
                accelerator=raw.get("accelerator"),
            )
        except KeyError as missing:
            raise ConfigError(f"{ORIGIN}: missing key {missing}") from None


def _plain(section: Any) -> dict[str, Any]:
    return typed.plain(dataclasses.asdict(section))


def with_values(model: Model, values: Mapping[str, Any]) -> Model:
    """`model` with some settings replaced (a Tuner trial's, auto's), each checked and typed.

    `config.Model`'s own fields are replaced; the others are family settings
    (`model.settings`), each coerced to the type its family declares.

    Raises:
      ConfigError: A name is no model setting, or a value has the wrong type.
    """
    if not values:
        return model
    from recsearch import model_registry

    own = {f.name for f in dataclasses.fields(Model)} - {"settings"}
    family_types = model_registry.every_setting()
    settings = dict(model.settings)
    for key, value in values.items():
        if key in own:
            continue
        if key not in family_types:
            known = ", ".join(sorted({*own, *family_types}))
            raise ConfigError(f"{ORIGIN}: unknown key 'model.{key}' (known keys: {known})")
        settings[key] = typed.coerce(family_types[key], value, ORIGIN, f"model.{key}")
    raw = {**_plain(model), **{k: v for k, v in values.items() if k in own}}
    return typed.build(Model, {**raw, "settings": settings}, ORIGIN, "model")
