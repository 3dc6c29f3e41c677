"""Figures for the report, rendered with matplotlib into embedded PNG data URIs."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator


def _data_uri(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def loss_curve(losses: list[float]) -> str | None:
    if not losses:
        return None
    figure, axis = plt.subplots(figsize=(5.5, 3))
    axis.plot(range(1, len(losses) + 1), losses, marker="o")
    axis.set_xlabel("epoch")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_ylabel("training loss")
    axis.grid(alpha=0.3)
    return _data_uri(figure)


def metric_bars(
    candidate: dict[str, float],
    baseline: dict[str, float],
    reference: dict[str, float] | None = None,
    reference_label: str = "popularity",
) -> str | None:
    """Grouped bars per metric: the candidate, the served model, the reference (popularity)."""
    names = sorted(candidate)
    if not names:
        return None
    groups = [("candidate", candidate)]
    groups += [("served", baseline)] if baseline else []
    groups += [(reference_label, reference)] if reference else []
    figure, axis = plt.subplots(figsize=(5.5, 3))
    width = 0.8 / len(groups)
    for g, (label, values) in enumerate(groups):
        offset = (g - (len(groups) - 1) / 2) * width
        axis.bar(
            [p + offset for p in range(len(names))],
            [values.get(n, 0.0) for n in names],
            width,
            label=label,
        )
    positions = range(len(names))
    axis.set_xticks(list(positions), names, rotation=20)
    axis.legend()
    axis.grid(axis="y", alpha=0.3)
    return _data_uri(figure)


def slice_bars(labels: list[str], values: list[float], title: str) -> str | None:
    if not labels:
        return None
    figure, axis = plt.subplots(figsize=(5.5, 2.8))
    axis.barh(labels, values)
    axis.set_xlabel(title)
    axis.grid(axis="x", alpha=0.3)
    return _data_uri(figure)
