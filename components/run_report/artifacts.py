"""Artifact types the Kubeflow Pipelines UI renders: HTML, Markdown and metrics.

Their type names are KFP's system types, so the KFP v2 UI shows them as
visualisations. HTML and Markdown are value artifacts: the artifact URI is the
file itself, which is what the KFP UI reads.
"""

from __future__ import annotations

from tfx.types.artifact import Artifact
from tfx.types.value_artifact import ValueArtifact


class _TextArtifact(ValueArtifact):
    def encode(self, value: str) -> bytes:
        return value.encode("utf-8")

    def decode(self, serialized_value: bytes) -> str:
        return serialized_value.decode("utf-8")


class HtmlReport(_TextArtifact):
    """A self-contained HTML page."""

    TYPE_NAME = "system.HTML"


class MarkdownSummary(_TextArtifact):
    """A short Markdown summary."""

    TYPE_NAME = "system.Markdown"


class RunMetrics(Artifact):
    """Key metrics, as float custom properties."""

    TYPE_NAME = "system.Metrics"
