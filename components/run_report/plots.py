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


def metric_bars(candidate: dict[str, float], baseline: dict[str, float]) -> str | None:
    names = sorted(candidate)
    if not names:
        return None
    figure, axis = plt.subplots(figsize=(5.5, 3))
    positions = range(len(names))
    axis.bar([p - 0.2 for p in positions], [candidate[n] for n in names], 0.4, label="candidate")
    if baseline:
        axis.bar(
            [p + 0.2 for p in positions],
            [baseline.get(n, 0.0) for n in names],
            0.4,
            label="served",
        )
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
