"""Building the run report from a run's artifacts."""

from __future__ import annotations

import dataclasses
import time

import pandas as pd
import tensorflow as tf

from recsearch import config as config_lib
from recsearch import features as keys
from recsearch.components.data_gate.executor import read_anomalies
from recsearch.components.data_gate.executor import report as anomaly_lines
from recsearch.components.evaluator.results import read_event_metrics, read_metrics
from recsearch.components.release_gate.checks import reference_scores, sample_users
from recsearch.components.run_report import gather, plots, render
from recsearch.data import examples
from recsearch.modules import selection

SECTIONS = ("verdict", "data", "training", "evaluation", "slices", "samples", "index")

# Eval users the report slices its metrics over (a seeded sample above this).
SLICE_USERS = 20_000


@dataclasses.dataclass
class ReportInputs:
    """URIs of the artifacts a report reads (None where a run has none)."""

    config: config_lib.PipelineConfig
    statistics: str
    schema: str
    anomalies: str | None
    previous_schema: str | None
    model_run: str | None
    model: str | None
    evaluation: str | None
    blessing: str | None
    examples: str
    pushed_to: str | None = None


@dataclasses.dataclass
class Report:
    html: str
    markdown: str
    metrics: dict[str, float]


def _catalog(
    config: config_lib.PipelineConfig, examples_uri: str
) -> tuple[dict[str, str], dict[str, bytes]]:
    """Item titles and images from ExampleGen's catalog split (empty without items).

    Read from the run's own examples, not the tables again: on Kubeflow the
    tables are wherever the run's data root said.
    """
    if config.items is None:
        return {}, {}
    title = keys.side_feature("item", config.items.text[0]) if config.items.text else None
    wanted = [name for name in (title, keys.IMAGE if config.items.image else None) if name]
    found = examples.read_catalog(examples_uri, wanted)
    titles = dict(zip(found[keys.ITEM_ID], found[title])) if title else {}
    images = dict(zip(found[keys.ITEM_ID], found[keys.IMAGE])) if keys.IMAGE in found else {}
    return titles, images


def served_model_label(config: config_lib.PipelineConfig, chosen: dict | None) -> str:
    """The model family that answers `recommend`: the configured one, or what auto chose
    (and the ranker that reorders its candidates, for two stages)."""
    label = config.model_name
    if chosen:
        label = f"auto, which chose {chosen['winner_label']}"
        if chosen.get("content_model"):
            label += f" ({chosen['content_model']} answers search)"
    if config.model.ranker:
        label += f", then {config.model.ranker} reorders its first {config.model.rerank_depth}"
    return label


@dataclasses.dataclass(frozen=True)
class _Run:
    """What several sections read: the release checks, the metrics, the verdict."""

    checks: list[dict]
    blessed: bool
    metrics: dict[str, float]
    baseline: dict[str, float]
    by_event: dict[str, dict[str, float]]
    verdict: str


def build(inputs: ReportInputs) -> Report:
    """Reads the artifacts and renders the report: one function per section."""
    config = inputs.config
    checks = gather.read_checks(inputs.blessing)
    blessed = bool(checks) and all(c["passed"] for c in checks)
    metrics, baseline = read_metrics(inputs.evaluation) if inputs.evaluation else ({}, {})
    run = _Run(
        checks=checks,
        blessed=blessed,
        metrics=metrics,
        baseline=baseline,
        by_event=read_event_metrics(inputs.evaluation) if inputs.evaluation else {},
        verdict="Blessed and pushed"
        if blessed and inputs.pushed_to
        else ("Blessed" if blessed else "Not blessed: nothing was pushed"),
    )
    chosen = selection.read(inputs.model_run) if inputs.model_run else None
    reference_label, reference = reference_scores(checks)
    rows = _metric_rows(run, reference_label, reference)
    evaluation_html = _evaluation_section(run, rows, reference_label, reference)
    slices_html, samples_html = _slices_and_samples(inputs)
    html = render.page(
        f"recsearch run report: {config.name}",
        f"Generated {time.strftime('%Y-%m-%d %H:%M:%S')}; task {config.task}, "
        f"model {served_model_label(config, chosen)}.",
        [
            ("verdict", "Verdict", _verdict_section(run, inputs.pushed_to)),
            ("data", "Data", _data_section(inputs)),
            ("training", "Training", _training_section(inputs, chosen)),
            ("evaluation", "Evaluation", evaluation_html),
            ("slices", "Metric slices", slices_html),
            ("samples", "Sample recommendations", samples_html),
            ("index", "Nearest-neighbour index", _index_section(checks)),
        ],
    )
    per_event = {
        f"{n} ({event})": v for event, values in run.by_event.items() for n, v in values.items()
    }
    return Report(
        html=html,
        markdown=_markdown(config, run, rows, reference_label),
        metrics={**metrics, **per_event},
    )


def _verdict_section(run: _Run, pushed_to: str | None) -> str:
    # Each failed check's detail names the setting that moves its threshold.
    reasons = [f"{c['name']}: {c['detail']}" for c in run.checks if not c["passed"]]
    verdict_class = "ok" if run.blessed else "fail"
    return (
        f'<p><span class="verdict {verdict_class}">{render.escape(run.verdict)}</span></p>'
        + (
            f"<p>Pushed to <code>{render.escape(pushed_to)}</code>. Query it with "
            f"<code>recsearch recommend --model-dir {render.escape(pushed_to)} "
            f"--user ID</code>.</p>"
            if pushed_to
            else ""
        )
        + render.bullet_list(reasons, "Every release check passed.")
    )


def _data_section(inputs: ReportInputs) -> str:
    stats = gather.split_statistics(inputs.statistics)
    counts = pd.DataFrame([{"split": s, "examples": f.attrs["examples"]} for s, f in stats.items()])
    anomalies = (
        anomaly_lines(read_anomalies(_artifact(inputs.anomalies))) if inputs.anomalies else []
    )
    changes = gather.schema_changes(
        gather.read_schema(inputs.schema), gather.read_schema(inputs.previous_schema)
    )
    train_stats = stats.get("train", next(iter(stats.values())))
    return (
        render.table(counts)
        + "<h3>Anomalies</h3>"
        + render.bullet_list(anomalies, "No anomaly in any split.")
        + "<h3>Schema changes since the last run</h3>"
        + render.bullet_list(changes, "No change (or no earlier run).")
        + "<h3>Features of the train split</h3>"
        + render.table(
            gather.with_catalog_content(train_stats, stats.get("catalog")), percent=["missing"]
        )
    )


def _training_section(inputs: ReportInputs, chosen: dict | None) -> str:
    config = inputs.config
    history = gather.training_history(inputs.model_run) if inputs.model_run else {"loss": []}
    losses = history.get("loss", [])
    if len(losses) > 1:
        html = render.figure(plots.loss_curve(losses), "training loss per epoch")
        trained = f"{len(losses)} epochs"
    else:  # a closed-form model (EASE, biases) is solved in one step: no curve to draw
        trained = "solved in one step" + (f" (loss {losses[0]:.4g})" if losses else "")
        html = ""
    html += (
        f"<p>{history.get('model') or config.model_name}: {trained} in "
        f"{history.get('seconds', 0.0):.1f} s. TensorBoard logs: "
        f"<code>{render.escape(inputs.model_run or '-')}</code></p>"
    )
    ranker = history.get("ranker_training")
    if ranker:
        html += (
            f"<p>Ranking stage ({render.escape(str(history.get('ranker')))}): "
            f"{ranker['rows']} rows from the retrieval stage's candidates, which held "
            f"{100 * ranker['retrieval_recall_at_depth_inner']:.1f}% of the users' latest "
            f"training items; {ranker['epochs']} of {len(ranker['loss'])} epochs kept "
            "(early stopping on held-back users). The Evaluator's retrieval_* metrics "
            "are the retrieval stage alone.</p>"
        )
    refit = (
        gather.training_history(inputs.model_run, "refit_history.json") if inputs.model_run else {}
    )
    html += f"<p>{render.escape(gather.served_data_sentence(history, refit))}</p>"
    again = refit.get("ranker_training") or {}
    if "rows_heldout" in again:
        html += (
            f"<p>The served bundle's ranker was trained again on {again['rows']} rows, "
            f"{again['rows_heldout']} of them from the held-out interactions (the judged "
            f"retrieval stage held {100 * again['retrieval_recall_at_depth_heldout']:.1f}% "
            "of them in its candidates).</p>"
        )
    if chosen:
        html += (
            "<h3>Model choice (model: auto)</h3><p>Each candidate was trained on the "
            "training interactions minus each user's latest and judged on those:</p>"
            + render.bullet_list(chosen["lines"], "")
        )
    return html


def _metric_rows(run: _Run, reference_label: str, reference: dict) -> list[dict]:
    return [
        {
            "metric": n,
            "candidate": f"{v:.4f}",
            "served": f"{run.baseline[n]:.4f}" if n in run.baseline else "first run",
            reference_label: f"{reference[n]:.4f}" if n in reference else "-",
        }
        for n, v in sorted(run.metrics.items())
    ]


def _evaluation_section(run: _Run, rows: list[dict], reference_label: str, reference: dict) -> str:
    check_rows = pd.DataFrame(
        [
            {
                "check": c["name"],
                "result": "passed" if c["passed"] else "FAILED",
                "detail": c["detail"],
            }
            for c in run.checks
        ]
    )
    html = render.table(pd.DataFrame(rows)) if rows else '<p class="muted">No evaluation.</p>'
    if run.by_event:
        event_rows = [
            {"event type": event, **{n: f"{v:.4f}" for n, v in sorted(values.items())}}
            for event, values in sorted(run.by_event.items())
        ]
        html += "<h3>By event type</h3>" + render.table(pd.DataFrame(event_rows))
    html += render.figure(
        plots.metric_bars(run.metrics, run.baseline, reference, reference_label),
        f"candidate against the served model and {reference_label}",
    )
    return (
        html
        + "<h3>Release checks</h3>"
        + (render.table(check_rows) if len(check_rows) else '<p class="muted">No checks.</p>')
    )


def _slices_and_samples(inputs: ReportInputs) -> tuple[str, str]:
    """The metric slices and the sample users' lists: both need the model loaded."""
    config = inputs.config
    k = config.evaluation.top_k
    if not inputs.model or config.task == "rating":
        return ('<p class="muted">No model in this run.</p>',) * 2
    model = tf.saved_model.load(inputs.model)
    train = examples.read_split(inputs.examples, "train")
    evaluation = examples.read_split(inputs.examples, "eval", serialized=True)
    # Bounded: the slices are measured on a seeded sample of eval users.
    _, evaluation = sample_users(evaluation, SLICE_USERS)
    sliced = gather.sliced_metrics(train, evaluation, gather.ranks(model, evaluation), k)
    slices_html = ""
    for column, frame in sliced.items():
        slices_html += f"<h3>By {render.escape(column)}</h3>" + render.table(frame)
        slices_html += render.figure(
            plots.slice_bars(list(frame[column]), list(frame[f"recall@{k}"]), f"recall@{k}"),
            f"recall@{k} by {column}",
        )
    titles, images = _catalog(config, inputs.examples)
    held = gather.group_items(evaluation)
    users = gather.sample_users(train, evaluation)
    recommended = gather.recommendations(model, users)
    samples_html = ""
    for user in users:
        past = "".join(
            render.card(i, titles.get(i, ""), images.get(i), "history")
            for i in gather.history(train, user)
        )
        recs = "".join(
            render.card(
                i,
                titles.get(i, ""),
                images.get(i),
                f"score {s:.3f}",
                hit=i in held.get(user, set()),
            )
            for i, s in recommended[user]
        )
        samples_html += (
            f"<h3>User {render.escape(user)}</h3><p>Recent history</p>"
            f'<div class="cards">{past}</div><p>Top {k} recommendations '
            f"(green: the user interacted with it later)</p>"
            f'<div class="cards">{recs}</div>'
        )
    return slices_html, samples_html


def _index_section(checks: list[dict]) -> str:
    index = next((c for c in checks if c["name"] == "index"), None)
    html = render.bullet_list(
        [index["detail"]] if index else [], "No approximate index was checked in this run."
    )
    if index and index.get("figures"):
        html += render.table(pd.DataFrame([dict(index["figures"])]))
    return html


def _markdown(
    config: config_lib.PipelineConfig, run: _Run, rows: list[dict], reference_label: str
) -> str:
    return "\n".join(
        [
            f"# {config.name}: {run.verdict}",
            "",
            f"| metric | candidate | served | {reference_label} |",
            "|---|---|---|---|",
        ]
        + [
            f"| {r['metric']} | {r['candidate']} | {r['served']} | {r[reference_label]} |"
            for r in rows
        ]
        + [
            f"| {n} ({event}) | {v:.4f} | | |"
            for event, values in sorted(run.by_event.items())
            for n, v in sorted(values.items())
            if "@" in n
        ]
        + [""]
        + [f"- {'ok' if c['passed'] else 'FAILED'} {c['name']}: {c['detail']}" for c in run.checks]
    )


def _artifact(uri: str):
    from tfx.types import standard_artifacts

    artifact = standard_artifacts.ExampleAnomalies()
    artifact.uri = uri
    splits = [
        p.rstrip("/").rsplit("/", 1)[-1][len("Split-") :]
        for p in tf.io.gfile.glob(f"{uri}/Split-*")
    ]
    artifact.split_names = str(splits).replace("'", '"')
    return artifact
