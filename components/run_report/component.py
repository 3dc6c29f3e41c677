"""RunReport component: reads a run's artifacts and writes the report."""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts as std
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from recsearch.components.run_report import executor
from recsearch.components.run_report.artifacts import HtmlReport, MarkdownSummary, RunMetrics


class RunReportSpec(ComponentSpec):
    PARAMETERS = {
        "config": ExecutionParameter(type=str),
        "state_dir": ExecutionParameter(type=str),
    }
    INPUTS = {
        "statistics": ChannelParameter(type=std.ExampleStatistics),
        "schema": ChannelParameter(type=std.Schema),
        "anomalies": ChannelParameter(type=std.ExampleAnomalies, optional=True),
        "previous_schema": ChannelParameter(type=std.Schema, optional=True),
        "examples": ChannelParameter(type=std.Examples),
        "model_run": ChannelParameter(type=std.ModelRun, optional=True),
        "model": ChannelParameter(type=std.Model, optional=True),
        "evaluation": ChannelParameter(type=std.ModelEvaluation, optional=True),
        "blessing": ChannelParameter(type=std.ModelBlessing, optional=True),
        "pushed_model": ChannelParameter(type=std.PushedModel, optional=True),
    }
    OUTPUTS = {
        "report": ChannelParameter(type=HtmlReport),
        "summary": ChannelParameter(type=MarkdownSummary),
        "metrics": ChannelParameter(type=RunMetrics),
    }


class RunReport(base_component.BaseComponent):
    """Writes the HTML report, a Markdown summary and the key metrics of the run."""

    SPEC_CLASS = RunReportSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, config_json: str, state_dir: str, **inputs: types.BaseChannel):
        """Creates the component.

        Args:
          config_json: The pipeline config.
          state_dir: Where this run's schema is left for the next run's
            "schema changes" (read back by ServedModel).
          **inputs: The run's artifacts.
        """
        super().__init__(
            spec=RunReportSpec(
                config=config_json,
                state_dir=state_dir,
                report=types.Channel(type=HtmlReport),
                summary=types.Channel(type=MarkdownSummary),
                metrics=types.Channel(type=RunMetrics),
                **inputs,
            )
        )
