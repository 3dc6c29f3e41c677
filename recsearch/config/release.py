"""The release sections of the config: blessing, serving, the release gate."""

from __future__ import annotations

import dataclasses
from typing import Literal


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """How the Evaluator judges and blesses a candidate.

    Attributes:
      top_k: Cut-off of the ranking metrics.
      metric: Metric that decides the blessing: recall, ndcg, mrr or hit_rate
        for retrieval (default recall); those, auc or log_loss for ranking
        (default ndcg); rmse or mae for ratings (default rmse).
      value_threshold: The candidate must reach at least this value (at most,
        for errors such as rmse) to be blessed. Unset: any value passes.
      min_improvement: With a value other than 0, the candidate's mean must
        also beat the served model's by at least this much (absolute; a
        negative value tolerates that much regression), one number against
        one number, as TFMA's change threshold. 0 (the default) leaves the
        comparison to `tolerance` and `confidence`.
      tolerance: The release gate refuses a candidate worse than the served
        model by more than this share of the served model's value (0.02:
        2%), judged on the same eval users with a paired bootstrap; one
        equal within noise is pushed, as the fresher model.
      confidence: One-sided confidence of that judgement (0.95).
      max_users: The eval split holds at most this many users, a fixed
        sample (the users whose id hashes lowest, so the same users run after
        run); None keeps every user. Bounds the Evaluator, the release gate
        and the report on a large log; training data is not touched.
    """

    top_k: int = 10
    metric: Literal[
        "recall", "ndcg", "mrr", "hit_rate", "auc", "log_loss", "rmse", "mae", "auto"
    ] = "auto"
    value_threshold: float | None = None
    min_improvement: float = 0.0
    tolerance: float = 0.02
    confidence: float = 0.95
    max_users: int | None = 50_000


@dataclasses.dataclass(frozen=True)
class Release:
    """The release gate's checks beyond the Evaluator's metric thresholds.

    Attributes:
      min_coverage: Least share of the catalog the top-K lists must cover.
      max_coverage_drop: Largest relative coverage loss against the last
        blessed model (0.5: at most half).
      max_popularity_bias_increase: Largest rise of the mean popularity
        percentile of recommended items against the served model.
      max_unknown_user_rate: Largest share of eval users unknown to the model.
      max_popularity_shift: Largest total-variation distance between the item
        popularity of this and the served model's training data.
      latency_budget_ms: Largest p99 latency of a one-user `recommend` call,
        measured in a fresh process once the gate's other checks are done:
        warmed up, 200 calls over up to 20 users, and measured once more
        before an over-budget figure is believed (the better round counts).
      max_bundle_mb: Largest size of the bundle that would be pushed (its
        directory, companion index and assets included). The default, 750 MB,
        fits a TF Serving pod of 2 GiB: during a swap it holds the old and the
        new version at once, beside about 500 MB of runtime.
      min_ann_recall: Least recall@K of the approximate index against exact
        top-K, when the bundle has one.
      keep_versions: Model versions kept in the serving directory (the served
        one and two to roll back to).
      keep_runs: A local run keeps the artifacts of the pipeline's last this
        many runs under the output folder and removes the rest, with their
        ML Metadata entries marked DELETED (`recsearch clean` does the same
        on demand). The judged model behind the newest served version is kept.
      refit: After the candidate is judged on the held-out interactions,
        train the same configuration again on the whole log (train and
        held-out) and push that model, so serving knows every user's newest
        interactions. The blessing stays the one measured on the held-out
        split; false pushes the judged model itself.
      refit_epochs: Epochs of the refit, started from the judged candidate's
        trained weights (the same vocabularies: every table carries over).
        0: train it from scratch with `model.epochs`. Closed-form models
        (EASE) are solved again either way.
    """

    min_coverage: float | None = None
    max_coverage_drop: float | None = 0.5
    max_popularity_bias_increase: float | None = 0.2
    max_unknown_user_rate: float | None = None
    max_popularity_shift: float | None = None
    latency_budget_ms: float | None = 250.0
    max_bundle_mb: float | None = 750.0
    min_ann_recall: float | None = 0.9
    keep_versions: int = 3
    keep_runs: int = 3
    refit: bool = True
    refit_epochs: int = 2


@dataclasses.dataclass(frozen=True)
class Serving:
    """What the serving bundle returns.

    Attributes:
      top_k: Number of items `recommend` returns.
      exclude_seen: Leave out items the user interacted with in training.
      index: "brute_force" (exact), "scann" (an approximate index in a
        companion bundle; needs a ScaNN-enabled TF Serving), or "auto"
        (ScaNN from 10,000 items when the scann package is installed).
      ann_leaves: ScaNN partitions (0: about 2 sqrt(items)).
      ann_leaves_to_search: Partitions searched per query (0: 20%).
      ann_reorder: Candidates re-scored exactly (0: at least 3,000).
    """

    top_k: int = 10
    exclude_seen: bool = True
    index: Literal["auto", "brute_force", "scann"] = "auto"
    ann_leaves: int = 0
    ann_leaves_to_search: int = 0
    ann_reorder: int = 0
