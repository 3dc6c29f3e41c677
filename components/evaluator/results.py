"""What the Evaluator wrote, read back: metrics of the candidate and the baseline, by slice."""

from __future__ import annotations

_DIFF_SUFFIX = "_diff"


def describe_failure(failure, metrics: dict[str, float], baseline: dict[str, float]) -> str:
    """A readable sentence for one failed TFMA threshold."""
    name = failure.metric_key.name
    if failure.metric_key.is_diff:
        threshold = failure.metric_threshold.change_threshold
        change = metrics.get(name, float("nan")) - baseline.get(name, float("nan"))
        return (
            f"{name} {metrics.get(name, float('nan')):.4f} vs the served model's "
            f"{baseline.get(name, float('nan')):.4f}: change {change:+.4f} does not meet "
            f"the required {threshold.absolute.value:+.4f} (evaluation.min_improvement)"
        )
    threshold = failure.metric_threshold.value_threshold
    bound = (
        f">= {threshold.lower_bound.value}"
        if threshold.HasField("lower_bound")
        else f"<= {threshold.upper_bound.value}"
    )
    value = metrics.get(name, float("nan"))
    return f"{name} {value:.4f} does not meet the required {bound}" + (
        f" ({failure.message}; evaluation.value_threshold)"
        if failure.message
        else " (evaluation.value_threshold)"
    )


def read_event_metrics(evaluation_uri: str, feature: str = "event") -> dict[str, dict[str, float]]:
    """The candidate's metrics on each slice of `feature` (event type -> name -> value).

    Empty when the evaluation was not sliced by it (no event column).
    """
    import tensorflow_model_analysis as tfma

    result = tfma.load_eval_result(evaluation_uri)
    found: dict[str, dict[str, float]] = {}
    for slice_key, by_output in result.slicing_metrics:
        if len(slice_key) != 1 or slice_key[0][0] != feature:
            continue
        value = slice_key[0][1]
        label = value.decode() if isinstance(value, bytes) else str(value)
        for name, metric in by_output.get("", {}).get("", {}).items():
            number = metric.get("doubleValue")
            if number is not None and not name.endswith(_DIFF_SUFFIX):
                found.setdefault(label, {})[name] = number
    return found


def read_metrics(evaluation_uri: str) -> tuple[dict[str, float], dict[str, float]]:
    """Overall-slice metrics of the candidate and, when evaluated against one, the baseline."""
    import tensorflow_model_analysis as tfma

    result = tfma.load_eval_result(evaluation_uri)
    metrics, diffs = {}, {}
    for slice_key, by_output in result.slicing_metrics:
        if slice_key != ():
            continue
        for name, value in by_output.get("", {}).get("", {}).items():
            number = value.get("doubleValue")
            if number is None:
                continue
            if name.endswith(_DIFF_SUFFIX):
                diffs[name[: -len(_DIFF_SUFFIX)]] = number
            else:
                metrics[name] = number
    baseline = {name: metrics[name] - diff for name, diff in diffs.items() if name in metrics}
    return metrics, baseline
