"""`system`: KFP's visualisation types, under the names TFX's v2 entrypoint imports.

Kubeflow's UI renders an artifact as HTML, Markdown or metrics when its type's
schema title is `system.HTML`, `system.Markdown` or `system.Metrics`. TFX's
Kubeflow v2 entrypoint (kubeflow_v2_run_executor) recovers a custom artifact's
Python class by importing its schema title as a class path. This top-level
package is installed so that both read the same title: `system.HTML` is
RunReport's HTML artifact class, and so on. It holds nothing else.
"""

from recsearch.components.run_report.artifacts import (
    HtmlReport as HTML,
)
from recsearch.components.run_report.artifacts import (
    MarkdownSummary as Markdown,
)
from recsearch.components.run_report.artifacts import (
    RunMetrics as Metrics,
)

__all__ = ["HTML", "Markdown", "Metrics"]
