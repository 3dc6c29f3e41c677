"""The model families: each registers itself from its own module; this is the registry.

A family is one module under `modules/models/` (`mf.py`, `ease.py`, ...). It
holds its settings as a frozen dataclass (a `FamilySettings`: exactly the
`model.*` settings it reads, with their defaults and checks), its builder, and
one `register(Family(...))` call. Everything that needs to know the models reads
this registry: config validation (`recsearch/config`), the factory
(`recsearch.modules.model_factory.build_model`), `model: auto` (its candidates
per task), the Tuner's search-space check and the Kubeflow client's `--model`.

The families' modules import TensorFlow, so the registry loads them on first
use, by name (`BUILTIN_FAMILIES`), as a plugin is loaded: this is the one place
the floor reaches up a layer, and it does so only through `families()`.
`register` adds a family of one's own the same way (`modules/models/toy_family_test.py`
registers one inside the test and runs it through `run_fn` and export).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from recsearch.config import typed
from recsearch.config.model import Model

# The module that imports every built-in family (each registers itself).
BUILTIN_FAMILIES = "recsearch.modules.models.families"
# Settings every family is trained with: `config.Model`'s own fields.
TRAINING = (
    "name",
    "learning_rate",
    "optimizer",
    "batch_size",
    "epochs",
    "max_examples",
    "seed",
    "warm_start",
    "warm_start_epochs",
)
TOP_K_TASKS = ("retrieval", "ranking", "sequential")


@dataclasses.dataclass(frozen=True)
class FamilySettings:
    """The base of every family's settings: its name and the run's seed.

    A family's settings class adds the `model.*` settings it reads, each with
    its default; `problems` checks their values (the config check reports
    each as "'model.<key>' <message>").
    """

    name: str
    seed: int

    def problems(self) -> list[tuple[str, str]]:
        """(setting, what is wrong) for each value this family cannot use."""
        return []

    @classmethod
    def own_settings(cls) -> tuple[str, ...]:
        """The `model.*` settings this family reads beyond the training settings."""
        base = {f.name for f in dataclasses.fields(FamilySettings)}
        return tuple(f.name for f in dataclasses.fields(cls) if f.name not in base)

    @classmethod
    def hints(cls) -> dict[str, Any]:
        return typing.get_type_hints(cls)


def positive(settings: Any, *names: str) -> list[tuple[str, str]]:
    """A problem for each of `names` that is not positive."""
    return [
        (name, f"must be positive, got {getattr(settings, name)}")
        for name in names
        if getattr(settings, name) <= 0
    ]


@dataclasses.dataclass(frozen=True)
class Family:
    """One model family.

    Attributes:
      name: The `model.name` that picks it.
      settings: Its settings class (a `FamilySettings` dataclass).
      build: Builds the untrained Keras model from its settings and the run's
        parts (`modules/models/parts.py`).
      tasks: The tasks it serves.
      inner_product: Whether it scores a user and an item by an inner product of
        two stored vectors (an ANN index can search it); False for the networks
        over a pair and for EASE's sparse item-item rows.
      max_items: The largest catalog it can hold (0: no limit).
    """

    name: str
    settings: type
    build: Callable[[Any, Any], Any]
    tasks: tuple[str, ...]
    inner_product: bool
    max_items: int = 0

    @property
    def own(self) -> tuple[str, ...]:
        """The `model.*` settings it reads beyond the training settings."""
        return self.settings.own_settings()

    @property
    def reads(self) -> tuple[str, ...]:
        """Every `model.*` setting this family reads."""
        return (*TRAINING, *self.own)

    @property
    def paths(self) -> tuple[str, ...]:
        """Its settings that name a file (resolved against the config's directory)."""
        return tuple(
            f.name for f in dataclasses.fields(self.settings) if f.metadata.get("path", False)
        )

    def config(self, model: Model, origin: str = "model settings") -> Any:
        """This family's settings: those `model` gives (each coerced to its type), the
        class's defaults for the rest.

        Raises:
          ConfigError: A given value has the wrong type (the message names it).
        """
        hints = self.settings.hints()
        given = {
            key: typed.coerce(hints[key], value, origin, f"model.{key}")
            for key, value in model.settings.items()
            if key in self.own
        }
        return self.settings(name=self.name, seed=model.seed, **given)


_REGISTERED: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Adds `family` to the registry (a family's module calls it once, at import).

    Raises:
      ValueError: Another family has that name, or its settings are no `FamilySettings`.
    """
    if not (isinstance(family.settings, type) and issubclass(family.settings, FamilySettings)):
        raise ValueError(f"{family.name}: settings must subclass FamilySettings")
    existing = _REGISTERED.get(family.name)
    if existing is not None and existing is not family:
        raise ValueError(f"a model family named {family.name!r} is already registered")
    _REGISTERED[family.name] = family
    return family


def unregister(name: str) -> None:
    """Removes a family registered by hand (a test's own)."""
    _REGISTERED.pop(name, None)


@functools.cache
def _load_builtin() -> None:
    importlib.import_module(BUILTIN_FAMILIES)


class _Families(Mapping):
    """name -> Family, the built-in families loaded on first use."""

    def _all(self) -> dict[str, Family]:
        _load_builtin()
        return _REGISTERED

    def __getitem__(self, name: str) -> Family:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


FAMILIES: Mapping[str, Family] = _Families()


def every_setting() -> dict[str, Any]:
    """Every family setting any registered family reads -> its type."""
    found: dict[str, Any] = {}
    for family_ in FAMILIES.values():
        hints = family_.settings.hints()
        for key in family_.own:
            found.setdefault(key, hints[key])
    return found


AUTO = "auto"
# The family that answers content search (text, images) beside any other.
CONTENT_MODEL = "two_tower"


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A family `model: auto` compares, with the settings auto gives it over the config's."""

    name: str
    settings: Mapping = dataclasses.field(default_factory=dict)

    @property
    def label(self) -> str:
        extra = ", ".join(f"{k} {v:g}" for k, v in self.settings.items())
        return f"{self.name} ({extra})" if extra else self.name


# The families each task compares under `model: auto`. Recency-weighted EASE is
# the strongest id-only model on the temporal protocols of docs/benchmarks.md.
CANDIDATES = {
    "retrieval": (Candidate("ease", {"recency_half_life": 10.0}), Candidate("two_tower")),
    "ranking": (Candidate("deepfm"), Candidate("ease", {"recency_half_life": 10.0})),
    "sequential": (Candidate("gru4rec"), Candidate("ease", {"recency_half_life": 5.0})),
    # The bias baseline at three penalties: a sparse log's factor models must beat it.
    "rating": (
        Candidate("bias", {"bias_l2": 1.0}),
        Candidate("bias", {"bias_l2": 5.0}),
        Candidate("bias", {"bias_l2": 25.0}),
        Candidate("mf"),
        Candidate("hybrid_mf"),
        Candidate("autorec"),
        Candidate("mf_autorec"),
    ),
}


def family(name: str) -> Family:
    """The family called `name`.

    Raises:
      KeyError: No family has that name (the message lists them).
    """
    try:
        return FAMILIES[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; expected one of {list(FAMILIES)}") from None


def for_task(task: str) -> tuple[str, ...]:
    """The families that serve `task`, in the table's order."""
    return tuple(name for name, f in FAMILIES.items() if task in f.tasks)


# `model: auto`'s budget for one candidate: a larger estimate skips it, saying why.
AUTO_MAX_SOLVE_SECONDS = 120.0
AUTO_MAX_SOLVE_GIB = 6.0
# EASE's float32 Cholesky on 2 cores: 35-90 GFLOP/s measured at 4k-10k items
# (docs/benchmarks.md); the low end, so the estimate errs long.
EASE_FLOPS_PER_SECOND = 3e10
# Above this many training rows, auto compares candidates on a seeded sample of users.
AUTO_MAX_ROWS = 300_000


def ease_cost(num_users: int, num_items: int) -> tuple[float, float]:
    """EASE's estimated solve (seconds, GiB): min(U, V) * V^2 flops, three V x V float32s."""
    seconds = min(num_users, num_items) * float(num_items) ** 2 / EASE_FLOPS_PER_SECOND
    return seconds, 3 * 4 * float(num_items) ** 2 / 2**30


def candidates_for(
    task: str, num_items: int, num_users: int = 0, has_fields: bool = True
) -> tuple[list[Candidate], dict[str, str]]:
    """The candidates of `task` that fit the catalog and auto's budget, and the skipped with why.

    `num_users`: users in the training data (0: unknown, the item cap alone
    applies to EASE); `has_fields`: users or items have side features (else
    `hybrid_mf` would be `mf` again).
    """
    chosen, skipped = [], {}
    for candidate in CANDIDATES[task]:
        cap = FAMILIES[candidate.name].max_items
        if cap and num_items > cap:
            skipped[candidate.label] = (
                f"its dense item x item matrix takes at most {cap:,} items, "
                f"this catalog has {num_items:,}"
            )
            continue
        if candidate.name == "ease" and num_users:
            seconds, gib = ease_cost(num_users, num_items)
            if seconds > AUTO_MAX_SOLVE_SECONDS or gib > AUTO_MAX_SOLVE_GIB:
                skipped[candidate.label] = (
                    f"its solve at {num_items:,} items and {num_users:,} users is estimated "
                    f"at {seconds:,.0f} s and {gib:.1f} GiB, over auto's budget of "
                    f"{AUTO_MAX_SOLVE_SECONDS:g} s and {AUTO_MAX_SOLVE_GIB:g} GiB "
                    "(name it with model.name: ease to train it anyway)"
                )
                continue
        if candidate.name == "hybrid_mf" and not has_fields:
            skipped[candidate.label] = "users and items have no side features to embed"
            continue
        chosen.append(candidate)
    return chosen, skipped


# The families that can be the ranking stage of a two-stage bundle (`model.ranker`),
# and the tasks a two-stage bundle serves.
RANKERS = ("neumf", "wide_deep", "deepfm", "dcn")
TWO_STAGE_TASKS = ("retrieval", "ranking")
TWO_STAGE = ("ranker", "rerank_depth", "freshness")


def families_read(
    name: str, task: str, has_content: bool = True, ranker: str | None = None
) -> tuple[str, ...]:
    """The families a run of `name` (or "auto") on `task` may build.

    `auto` builds every candidate of the task and, when items may have content,
    the content model that answers search beside it; a ranking stage (`ranker`) too.
    """
    if name != AUTO:
        names = [name]
    else:
        names = [c.name for c in CANDIDATES[task]]
        if has_content and task in TOP_K_TASKS:
            names.append(CONTENT_MODEL)
    if ranker in FAMILIES:
        names.append(ranker)
    return tuple(dict.fromkeys(n for n in names if n in FAMILIES))


def settings_read(
    name: str, task: str, has_content: bool = True, ranker: str | None = None
) -> tuple[str, ...]:
    """The `model.*` settings a run of `name` (or "auto") on `task` reads."""
    read: dict[str, None] = dict.fromkeys(("ranker",))
    if ranker:
        read.update(dict.fromkeys(TWO_STAGE))
    for n in families_read(name, task, has_content, ranker):
        read.update(dict.fromkeys(FAMILIES[n].reads))
    return tuple(read)
