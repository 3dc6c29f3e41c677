"""The model families, in one table: name, builder, settings, tasks, how it scores.

Everything that needs to know the models reads this table: config validation
(`recsearch/config`), the factory (`recsearch.modules.model_factory`, which calls
each family's builder), `model: auto` (its candidates per task), the Tuner's
search-space check and the Kubeflow client's `--model`. It imports no
TensorFlow, so the command line can read it cheaply.

Each family's own config class holds exactly the `model.*` settings it reads (the
shared training settings plus its own): `family.config_class`, built from the
fields of `config.Model`, so every default is written once, there. A setting in a
config file that the chosen family does not read is an error that names it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

from recsearch.config.model import Model

# Settings every family reads: how it is trained and seeded.
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
# The content encoders of two_tower (text and images of the items).
_CONTENT = (
    "use_side_features",
    "text_encoder",
    "text_dim",
    "word_vectors",
    "image_encoder",
    "image_backbone",
    "image_dim",
    "id_dropout",
    "content_weight",
)
_PAIR = (
    "embedding_dim",
    "hidden_layers",
    "use_side_features",
    "logq_correction",
    "loss",
    "margin",
    "num_negatives",
    "negative_sampling",
    "l2",
)
_SEQUENCE = (
    "embedding_dim",
    "sequence_length",
    "sequence_dropout",
    "temperature",
    "loss",
    "margin",
    "logq_correction",
)
TOP_K_TASKS = ("retrieval", "ranking", "sequential")

# EASE's B is a dense V x V matrix: past this many items it is not a candidate.
EASE_MAX_ITEMS = 30_000


@dataclasses.dataclass(frozen=True)
class Family:
    """One model family.

    Attributes:
      name: The `model.name` that picks it.
      builder: The function of `recsearch.modules.model_factory` that builds it
        from its config and the run's parts.
      tasks: The tasks it serves.
      inner_product: Whether it scores a user and an item by an inner product of
        two stored vectors (an ANN index can search it); False for the networks
        over a pair and for EASE's sparse item-item rows.
      settings: The `model.*` settings it reads besides TRAINING.
      max_items: The largest catalog it can hold (0: no limit).
    """

    name: str
    builder: str
    tasks: tuple[str, ...]
    inner_product: bool
    settings: tuple[str, ...]
    max_items: int = 0

    @property
    def reads(self) -> tuple[str, ...]:
        """Every `model.*` setting this family reads."""
        return (*TRAINING, *self.settings)

    @property
    def config_class(self) -> type:
        """This family's own config: a frozen dataclass of the settings it reads."""
        return _config_class(self.name, self.reads)

    def config(self, model: Model) -> Any:
        """This family's config: the settings of `model` it reads, with its own name."""
        values = dataclasses.replace(model, name=self.name)
        return self.config_class(**{name: getattr(values, name) for name in self.reads})


@functools.cache
def _config_class(name: str, reads: tuple[str, ...]) -> type:
    fields = {f.name: f for f in dataclasses.fields(Model)}
    hints = Model.__annotations__
    return dataclasses.make_dataclass(
        "".join(part.capitalize() for part in name.split("_")) + "Config",
        [(n, hints[n], dataclasses.field(default=fields[n].default)) for n in reads],
        frozen=True,
    )


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "two_tower",
            "build_two_tower",
            TOP_K_TASKS,
            True,
            (
                "embedding_dim",
                "hidden_layers",
                "normalize",
                "logq_correction",
                "temperature",
                "loss",
                "margin",
                "mixed_negatives",
                "l2",
                *_CONTENT,
            ),
        ),
        Family(
            "ease",
            "build_history_model",
            TOP_K_TASKS,
            False,  # scored from sparse item-item rows: nothing for an ANN index to search
            ("ease_l2", "recency_half_life", "ease_neighbors"),
            max_items=EASE_MAX_ITEMS,
        ),
        Family(
            "mult_vae",
            "build_history_model",
            TOP_K_TASKS,
            True,
            ("embedding_dim", "vae_hidden_dim", "vae_dropout", "vae_beta"),
        ),
        Family(
            "item2vec",
            "build_history_model",
            TOP_K_TASKS,
            True,
            ("embedding_dim", "temperature", "recency_half_life"),
        ),
        Family(
            "wmf",
            "build_history_model",
            TOP_K_TASKS,
            True,
            ("embedding_dim", "wmf_unobserved_weight", "l2"),
        ),
        Family("bias", "build_bias", ("rating",), True, ("bias_l2",)),
        Family("mf", "build_mf", ("rating",), True, ("embedding_dim", "l2", "bias_l2")),
        Family(
            "hybrid_mf",
            "build_hybrid_mf",
            ("rating",),
            True,
            ("embedding_dim", "l2", "use_side_features", "bias_l2"),
        ),
        Family("autorec", "build_history_model", ("rating",), True, ("embedding_dim", "l2")),
        Family(
            "mf_autorec",
            "build_mf_autorec",
            ("rating",),
            True,
            ("embedding_dim", "l2", "autorec_hidden_dim", "autorec_l2", "bias_l2"),
        ),
        Family("neumf", "build_pair_scorer", TOP_K_TASKS, False, _PAIR),
        Family("wide_deep", "build_pair_scorer", TOP_K_TASKS, False, _PAIR),
        Family("deepfm", "build_pair_scorer", TOP_K_TASKS, False, _PAIR),
        Family("dcn", "build_pair_scorer", TOP_K_TASKS, False, (*_PAIR, "cross_layers")),
        Family("gru4rec", "build_sequence_model", ("sequential",), True, _SEQUENCE),
        Family(
            "sasrec",
            "build_sequence_model",
            ("sequential",),
            True,
            (*_SEQUENCE, "attention_blocks", "attention_heads"),
        ),
    )
}
NAMES = tuple(FAMILIES)
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
        raise KeyError(f"unknown model {name!r}; expected one of {list(NAMES)}") from None


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


def settings_read(
    name: str, task: str, has_content: bool = True, ranker: str | None = None
) -> tuple[str, ...]:
    """The `model.*` settings a run of `name` (or "auto") on `task` reads.

    `auto` reads the settings of every candidate of the task and, when items
    may have content, those of the content model that answers search beside it.
    A ranking stage (`ranker`) reads its own family's settings and the two-stage ones.
    """
    if name != AUTO:
        names = [name]
    else:
        names = [c.name for c in CANDIDATES[task]]
        if has_content and task in TOP_K_TASKS:
            names.append(CONTENT_MODEL)
    if ranker in FAMILIES:
        names.append(ranker)
    read: dict[str, None] = dict.fromkeys(("ranker",))
    if ranker:
        read.update(dict.fromkeys(TWO_STAGE))
    for n in names:
        read.update(dict.fromkeys(FAMILIES[n].reads))
    return tuple(read)
