"""The release gate's checks, as pure functions over bundles, data and evaluation results.

Each check returns a `Check`: a name, whether it passed, and a sentence a
person can act on. A threshold left at None makes the check report only.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from recsearch import bundle, ranking_metrics
from recsearch import features as keys
from recsearch.components.evaluator.results import describe_failure, read_metrics
from recsearch.components.release_gate import latency
from recsearch.config import Release
from recsearch.modules.models import bias

# The bias baseline's ridge penalty on the gate's scoreboard: model.bias_l2's default.
BASELINE_L2 = bias.BiasSettings.bias_l2


@dataclasses.dataclass(frozen=True)
class GateConfig(Release):
    """What the release gate checks against: the config's `release` thresholds
    (`config.Release`, where each is documented) and where they apply.

    Attributes:
      top_k: Cut-off for coverage and popularity bias.
      temporal: Whether to check that no eval interaction precedes its user's
        training interactions (true for the temporal split).
      metric: The blessing metric (recall, ndcg, mrr, hit_rate for top-K tasks).
      tolerance: evaluation.tolerance (the comparison with the served model).
      confidence: evaluation.confidence.
    """

    top_k: int = 10
    temporal: bool = True
    metric: str = "recall"
    tolerance: float = 0.02
    confidence: float = 0.95

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GateConfig:
        return cls(**json.loads(text))


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str
    figures: dict[str, Any] = dataclasses.field(default_factory=dict)


def sample_users(evaluation: pd.DataFrame, limit: int) -> tuple[list[str], pd.DataFrame]:
    """The eval users (sorted) and their rows; a seeded sample of `limit` users above it.

    The checks that call the bundle once per user stay bounded on a large log.
    """
    users = sorted(set(evaluation[keys.USER_ID]))
    if len(users) <= limit:
        return users, evaluation
    logging.info("ReleaseGate: checks on a seeded sample of %d of %d eval users", limit, len(users))
    users = sorted(np.random.default_rng(0).choice(users, limit, replace=False).tolist())
    return users, evaluation[evaluation[keys.USER_ID].isin(set(users))]


@dataclasses.dataclass
class BundleView:
    """What the gate reads from a serving bundle."""

    item_ids: np.ndarray
    popularity: np.ndarray
    recommend: Any
    path: str = ""

    @classmethod
    def load(cls, path: str) -> BundleView:
        model = tf.saved_model.load(path)
        item_ids = np.array([v.decode() for v in model.item_ids.numpy()])
        recommend = model.signatures["recommend"]
        view = cls(item_ids, np.expm1(model.popularity.numpy()), recommend, path)
        view._model = model  # keeps the signature's owner alive
        return view

    def top_k(self, users: list[str], k: int) -> np.ndarray:
        """Each user's top-k item ids (bytes); asked once per users and k (checks share it)."""
        cache = self.__dict__.setdefault("_answers", {})
        key = (tuple(users), k)
        if key not in cache:
            out = []
            for start in range(0, len(users), 512):
                batch = tf.constant(users[start : start + 512])
                out.append(self.recommend(user_id=batch)["item_ids"].numpy()[:, :k])
            cache[key] = np.concatenate(out) if out else np.zeros((0, k), dtype=object)
        return cache[key]

    def popularity_percentile(self) -> dict[str, float]:
        order = np.argsort(np.argsort(self.popularity, kind="stable"), kind="stable")
        percentile = order / max(len(order) - 1, 1)
        return dict(zip(self.item_ids, percentile))


def catalog_check(
    candidate: BundleView, baseline: BundleView | None, users: list[str], config: GateConfig
) -> Check:
    """Coverage of the catalog and popularity bias of the top-K, against the baseline."""

    def measure(view: BundleView) -> tuple[float, float]:
        top = view.top_k(users, config.top_k)
        flat = [v.decode() if isinstance(v, bytes) else v for v in top.reshape(-1)]
        coverage = ranking_metrics.catalog_coverage(np.array(flat), len(view.item_ids))
        percentile = view.popularity_percentile()
        bias = float(np.mean([percentile.get(v, 0.0) for v in flat])) if flat else 0.0
        return coverage, bias

    coverage, bias = measure(candidate)
    figures = {"coverage": coverage, "popularity_bias": bias}
    problems = []
    if config.min_coverage is not None and coverage < config.min_coverage:
        problems.append(
            f"coverage {coverage:.3f} is below {config.min_coverage} (release.min_coverage)"
        )
    if baseline is not None:
        base_coverage, base_bias = measure(baseline)
        figures.update(baseline_coverage=base_coverage, baseline_popularity_bias=base_bias)
        drop = config.max_coverage_drop
        if drop is not None and coverage < (1 - drop) * base_coverage:
            problems.append(
                f"coverage fell from {base_coverage:.3f} to {coverage:.3f} (more than {drop:.0%}; "
                "release.max_coverage_drop)"
            )
        rise = config.max_popularity_bias_increase
        if rise is not None and bias > base_bias + rise:
            problems.append(
                f"popularity bias rose from {base_bias:.3f} to {bias:.3f} (more than {rise}; "
                "release.max_popularity_bias_increase)"
            )
    detail = "; ".join(problems) or f"coverage@{config.top_k} {coverage:.3f}, bias {bias:.3f}"
    return Check("catalog", not problems, detail, figures)


def comparison_check(
    candidate: BundleView,
    baseline: BundleView | None,
    evaluation: pd.DataFrame,
    users: list[str],
    config: GateConfig,
) -> Check:
    """The candidate against the served model on the same eval users (comparison.py).

    Refuses only a candidate that is worse beyond `evaluation.tolerance` at
    `evaluation.confidence`; one equal within noise passes, as the fresher
    model, with what it knows that the served one does not.
    """
    from recsearch import bundle
    from recsearch.components.release_gate import comparison

    if baseline is None:
        return Check("comparison", True, "first run: no served model to compare with", {})
    if config.metric not in ranking_metrics.METRICS:
        return Check(
            "comparison", True, f"{config.metric}: judged by the Evaluator's thresholds", {}
        )
    k = config.top_k
    wanted = evaluation.groupby(keys.USER_ID)[keys.ITEM_ID].agg(set)
    relevant = [{i.encode() for i in wanted.get(user, ())} for user in users]
    keep = [i for i, items in enumerate(relevant) if items]
    relevant = [relevant[i] for i in keep]
    ours = comparison.per_user(candidate.top_k(users, k)[keep], relevant, k, config.metric)
    theirs = comparison.per_user(baseline.top_k(users, k)[keep], relevant, k, config.metric)
    compared = comparison.compare(
        ours, theirs, f"{config.metric}@{k}", config.tolerance, config.confidence
    )
    asked = [users[i] for i in keep]
    newly_known = sum(
        mine and not theirs_
        for mine, theirs_ in zip(
            bundle.known_users(candidate.path, asked), bundle.known_users(baseline.path, asked)
        )
    )
    new_items = int((~np.isin(candidate.item_ids, baseline.item_ids)).sum())
    figures = {
        **dataclasses.asdict(compared),
        "eval_users_only_the_candidate_knows": int(newly_known),
        "items_only_the_candidate_knows": new_items,
    }
    detail = compared.words()
    if compared.verdict != "worse":
        detail += (
            f"; the candidate knows {newly_known:,} eval users and {new_items:,} catalog items "
            "the served model does not"
        )
    return Check("comparison", compared.verdict != "worse", detail, figures)


def data_check(
    train: pd.DataFrame,
    evaluation: pd.DataFrame,
    candidate: BundleView,
    baseline: BundleView | None,
    config: GateConfig,
) -> Check:
    """Time leakage, unknown users, cold items and popularity shift of the new data."""
    problems = []
    figures: dict[str, Any] = {}
    train_users = set(train[keys.USER_ID])
    unknown_users = float(np.mean(~evaluation[keys.USER_ID].isin(train_users)))
    figures["eval_unknown_user_rate"] = unknown_users
    figures["eval_cold_item_rate"] = float(
        np.mean(~evaluation[keys.ITEM_ID].isin(set(train[keys.ITEM_ID])))
    )
    limit = config.max_unknown_user_rate
    if limit is not None and unknown_users > limit:
        problems.append(
            f"{unknown_users:.1%} of eval users are unknown (limit {limit:.1%}; "
            "release.max_unknown_user_rate)"
        )
    if config.temporal and (train[keys.TIMESTAMP] >= 0).all():
        last_train = train.groupby(keys.USER_ID)[keys.TIMESTAMP].max()
        first_eval = evaluation.groupby(keys.USER_ID)[keys.TIMESTAMP].min()
        both = first_eval.index.intersection(last_train.index)
        leaking = int((first_eval[both] < last_train[both]).sum())
        figures["users_with_time_leakage"] = leaking
        if leaking:
            problems.append(
                f"{leaking} users have eval interactions older than their training ones"
            )
    if baseline is not None:
        new_items = ~np.isin(candidate.item_ids, baseline.item_ids)
        figures["new_item_rate"] = float(new_items.mean())
        shift = popularity_shift(candidate, baseline)
        figures["popularity_shift"] = shift
        if config.max_popularity_shift is not None and shift > config.max_popularity_shift:
            problems.append(
                f"item popularity shifted by {shift:.3f} (limit {config.max_popularity_shift}; "
                "release.max_popularity_shift)"
            )
    detail = "; ".join(problems) or ", ".join(
        f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items()
    )
    return Check("data", not problems, detail, figures)


def popularity_shift(candidate: BundleView, baseline: BundleView) -> float:
    """Total-variation distance between the two training popularity distributions."""
    share = {}
    for view, sign in ((candidate, 1.0), (baseline, -1.0)):
        total = view.popularity.sum() or 1.0
        for item, count in zip(view.item_ids, view.popularity):
            share[item] = share.get(item, 0.0) + sign * count / total
    return 0.5 * float(sum(abs(v) for v in share.values()))


def start_probe(
    model_dir: str, known_users: list[str] | str, known_item: str, calls: int | None = None
) -> subprocess.Popen:
    """Starts the serving probe on `model_dir` in a separate process; `serving_check` judges it.

    Started first, it loads TensorFlow and the bundle and checks every
    signature while the other checks run, then waits: `serving_check` tells it
    to time `recommend` (over `known_users`) once this process is idle, and
    against which budget.
    """
    users = [known_users] if isinstance(known_users, str) else list(known_users)
    command = [
        sys.executable,
        "-m",
        "recsearch.components.release_gate.serving_probe",
        model_dir,
        users[0],
        known_item,
        "--wait",
        "--users",
        *users[: latency.USERS],
    ]
    if calls is not None:
        command += ["--calls", str(calls)]
    return subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def serving_check(probe: subprocess.Popen, config: GateConfig, timeout: float = 600) -> Check:
    """Lets the serving probe (`start_probe`) time `recommend` now, and judges its answers.

    Call it when nothing else of this run computes: the probe's timing starts then.
    """
    budget = "none" if config.latency_budget_ms is None else repr(config.latency_budget_ms)
    try:
        # The line the probe waits for: time now, against this budget.
        stdout, stderr = probe.communicate(input=budget + "\n", timeout=timeout)
    except subprocess.TimeoutExpired:
        probe.kill()
        probe.communicate()
        return Check("serving", False, f"the bundle did not answer within {timeout:g} s")
    if probe.returncode != 0:
        tail = (stderr.strip().splitlines() or ["no output"])[-1]
        return Check("serving", False, f"the bundle failed in a fresh process: {tail}")
    report = json.loads(stdout.strip().splitlines()[-1])
    problems = [
        f"{case}: {what} failed"
        for case, outcome in report["cases"].items()
        for what, ok in outcome.items()
        if not ok
    ]
    timed = report["latency_ms"]
    p99 = timed["p99"]
    rounds = len(timed.get("rounds", [])) or 1
    measured = f"{rounds} rounds, the better one" if rounds > 1 else "1 round"
    if config.latency_budget_ms is not None and p99 > config.latency_budget_ms:
        problems.append(
            f"recommend p99 {p99:.1f} ms exceeds {config.latency_budget_ms} ms ({measured}; "
            "release.latency_budget_ms sets the budget)"
        )
    detail = "; ".join(problems) or (
        f"every signature answered; recommend p50 {timed['p50']:.1f} ms, "
        f"p99 {p99:.1f} ms ({measured})"
    )
    return Check("serving", not problems, detail, report)


def directory_bytes(path: str) -> int:
    """Bytes of every file under `path` (local or an object store)."""
    total = 0
    for root, _, files in tf.io.gfile.walk(path):
        for name in files:
            total += tf.io.gfile.stat(os.path.join(root, name)).length
    return total


def size_check(version_dir: str, config: GateConfig) -> Check:
    """The size of the bundle that would be pushed, against `release.max_bundle_mb`."""
    megabytes = directory_bytes(version_dir) / 1e6
    figures = {"bundle_mb": megabytes}
    limit = config.max_bundle_mb
    if limit is not None and megabytes > limit:
        return Check(
            "size",
            False,
            f"the bundle is {megabytes:,.1f} MB, above {limit:g} MB (release.max_bundle_mb)",
            figures,
        )
    return Check("size", True, f"the bundle is {megabytes:,.1f} MB", figures)


def evaluator_check(evaluation_uri: str) -> Check:
    """The Evaluator's own thresholds (value and change against the baseline)."""
    import tensorflow_model_analysis as tfma

    validation = tfma.load_validation_result(evaluation_uri)
    metrics, baseline = read_metrics(evaluation_uri)
    reasons = [
        describe_failure(f, metrics, baseline)
        for per_slice in validation.metric_validations_per_slice
        for f in per_slice.failures
    ]
    if not validation.validation_ok and not reasons:
        reasons.append("the Evaluator did not validate the model")
    detail = "; ".join(reasons) or "every metric threshold passed"
    return Check("metrics", validation.validation_ok, detail, {"metrics": metrics})


def popularity_ranks(
    train: pd.DataFrame, evaluation: pd.DataFrame, item_ids: np.ndarray, popularity: np.ndarray
) -> list[np.ndarray]:
    """Each eval user's relevant items' ranks under popularity, their training items excluded.

    The order is the candidate bundle's own: training counts, ties by
    candidate position, as `recommend` serves unknown users.
    """
    order = np.lexsort((np.arange(len(popularity)), -popularity))
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    where = {item: position[i] for i, item in enumerate(item_ids)}
    # Only eval users' training items are excluded: sets for them alone, not all users.
    eval_users = train[keys.USER_ID].isin(set(evaluation[keys.USER_ID]))
    seen = train[eval_users].groupby(keys.USER_ID)[keys.ITEM_ID].agg(set)
    ranks = []
    for user, items in evaluation.groupby(keys.USER_ID)[keys.ITEM_ID]:
        excluded = np.sort([where[i] for i in seen.get(user, ()) if i in where])
        relevant = np.array([where[i] for i in set(items) if i in where], dtype=np.int64)
        if relevant.size:
            ranks.append(relevant - np.searchsorted(excluded, relevant))
    return ranks


def popularity_check(
    train: pd.DataFrame,
    evaluation: pd.DataFrame,
    candidate: BundleView,
    metrics: dict[str, float],
    config: GateConfig,
) -> Check:
    """Report only: the most-popular list scored like the candidate, on the same eval split."""
    if any(name in RATING_METRICS or name in RATING_METRICS.values() for name in metrics):
        if keys.RATING in train and np.isfinite(train[keys.RATING]).any():
            return bias_baseline_check(train, evaluation, metrics)
        return Check("popularity", True, "not comparable for this task", {})
    ranks = popularity_ranks(train, evaluation, candidate.item_ids, candidate.popularity)
    if not ranks:
        return Check("popularity", True, "not comparable for this task", {})
    k = config.top_k
    scores = {f"{m}@{k}": v for m, v in ranking_metrics.mean_metrics(ranks, k).items()}
    parts = []
    for name, value in scores.items():
        mine = metrics.get(name)
        if mine is not None:
            ratio = f", {mine / value:.2f}x" if value > 0 else ""
            parts.append(f"{name} {value:.4f} (candidate {mine:.4f}{ratio})")
    return Check("popularity", True, "; ".join(parts), {"popularity": scores})


def bias_baseline_check(
    train: pd.DataFrame, evaluation: pd.DataFrame, metrics: dict[str, float]
) -> Check:
    """Report only, for ratings: the global mean plus user and item biases, fitted on the
    train split and scored on the same eval split, beside the candidate's errors.

    Where popularity stands for top-K tasks: a model that loses to it adds nothing.
    """
    rated = train[np.isfinite(train[keys.RATING])]
    judged = evaluation[np.isfinite(evaluation[keys.RATING])]
    if rated.empty or judged.empty:
        return Check("baseline", True, "no ratings to fit a bias baseline on", {})
    users = pd.Index(pd.unique(rated[keys.USER_ID]))
    items = pd.Index(pd.unique(rated[keys.ITEM_ID]))
    fitted = bias.fit_biases(
        users.get_indexer(rated[keys.USER_ID]),
        items.get_indexer(rated[keys.ITEM_ID]),
        rated[keys.RATING].to_numpy(),
        len(users),
        len(items),
        l2=BASELINE_L2,
    )
    u, i = users.get_indexer(judged[keys.USER_ID]), items.get_indexer(judged[keys.ITEM_ID])
    predicted = (
        fitted.mean
        + np.where(u >= 0, fitted.users[np.maximum(u, 0)], 0.0)
        + np.where(i >= 0, fitted.items[np.maximum(i, 0)], 0.0)
    )
    error = predicted - judged[keys.RATING].to_numpy()
    scores = {
        RATING_METRICS["rmse"]: float(np.sqrt(np.mean(error**2))),
        RATING_METRICS["mae"]: float(np.mean(np.abs(error))),
    }
    parts = []
    for short, name in RATING_METRICS.items():
        mine = metrics.get(name)
        if mine is not None:
            verdict = (
                "better" if mine < scores[name] else "worse" if mine > scores[name] else "equal"
            )
            parts.append(f"{short} {scores[name]:.4f} (candidate {mine:.4f}, {verdict})")
    return Check(
        "baseline",
        True,
        "bias baseline (mean + user + item biases): " + "; ".join(parts),
        {REFERENCE["baseline"][1]: scores},
    )


# The scoreboard's reference column, by the check that measured it: (label, figures key).
REFERENCE = {"popularity": ("popularity", "popularity"), "baseline": ("bias", "bias_baseline")}
RATING_METRICS = {"rmse": "root_mean_squared_error", "mae": "mean_absolute_error"}


def reference_scores(report: list[dict]) -> tuple[str, dict[str, float]]:
    """(label, metric -> value) of the scoreboard's reference in a gate report: popularity
    for top-K tasks, the bias baseline for ratings ({} when neither was measured)."""
    for check in report:
        if check["name"] in REFERENCE:
            label, key = REFERENCE[check["name"]]
            figures = check.get("figures", {}).get(key, {})
            if figures:
                return label, figures
    return "popularity", {}


def ann_check(version_dir: str, users: list[str], config: GateConfig) -> Check:
    """Recall@K and latency of the ScaNN companion against exact top-K, if there is one."""
    import time

    companion = bundle.companion_path(version_dir)
    if not tf.io.gfile.exists(os.path.join(companion, bundle.SAVED_MODEL)):
        return Check("index", True, "no approximate index in this bundle: top-K is exact")
    if not bundle.load_scann():
        return Check("index", False, "the bundle has a ScaNN index but scann is not installed")
    exact = tf.saved_model.load(version_dir).signatures["recommend"]
    approximate = tf.saved_model.load(companion).signatures["recommend"]
    recalls, timings = [], {"exact": [], "scann": []}
    for start in range(0, len(users), 256):
        batch = tf.constant(users[start : start + 256])
        began = time.perf_counter()
        truth = exact(user_id=batch)["item_ids"].numpy()[:, : config.top_k]
        middle = time.perf_counter()
        found = approximate(user_id=batch)["item_ids"].numpy()[:, : config.top_k]
        timings["exact"].append(middle - began)
        timings["scann"].append(time.perf_counter() - middle)
        recalls += [len(set(t) & set(f)) / max(len(t), 1) for t, f in zip(truth, found)]
    recall = float(np.mean(recalls)) if recalls else 1.0
    figures = {
        "ann_recall": recall,
        "exact_seconds": float(sum(timings["exact"])),
        "scann_seconds": float(sum(timings["scann"])),
    }
    limit = config.min_ann_recall
    if limit is not None and recall < limit:
        return Check(
            "index",
            False,
            f"ScaNN recall@{config.top_k} {recall:.3f} is below {limit} (release.min_ann_recall; "
            "serving.ann_leaves_to_search and serving.ann_reorder raise the recall)",
            figures,
        )
    return Check(
        "index", True, f"ScaNN recall@{config.top_k} {recall:.3f} against exact top-K", figures
    )
