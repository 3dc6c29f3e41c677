"""The protocols' tables as Markdown, for docs/benchmarks.md."""

from __future__ import annotations

PROTOCOL_TITLES = {
    "ratings": "Ratings: 5-fold CV, folds shared by all models",
    "stratified": "Top-10: 75/25 random split within each user",
    "temporal": "Top-10: each user's last 20% by time held out",
    "sequential": "Next item: each user's last interaction held out",
}


def table_text(name: str, protocol: dict) -> str:
    models = protocol["models"]
    title = f"**{PROTOCOL_TITLES[name]}** ({protocol['seconds']} s for the whole protocol)"
    cost = ("train_s", "examples_per_s", "peak_mib")
    cost_head = "train s | examples/s | peak extra MiB"
    if name == "ratings":
        head, fields = "RMSE | RMSE std | MAE", ("rmse", "rmse_std", "mae")
    elif name == "sequential":
        head, fields = "HR@10 | NDCG@10", ("hit_rate", "ndcg")
    else:
        head = "Recall@10 | NDCG@10 | MRR@10 | hit rate"
        fields = ("recall", "ndcg", "mrr", "hit_rate")
    lines = [title, "", f"| model | {head} | {cost_head} |", "|---" * (len(fields) + 4) + "|"]
    for model, row in models.items():
        values = [f"{row[f]:.4f}" for f in fields] + [str(row[c]) for c in cost]
        lines.append(f"| {model} | " + " | ".join(values) + " |")
    return "\n".join(lines)


def measured_line(result: dict) -> str:
    return f"Measured {result['date']} on {result['machine']}. Command: `{result['command']}`."


def text(result: dict) -> str:
    parts = [measured_line(result)] + [table_text(n, p) for n, p in result["protocols"].items()]
    return "\n\n".join(parts)


def protocol_blocks(result: dict) -> dict[str, str]:
    """Docs block name -> text, one per protocol run, so a partial run keeps the others."""
    return {
        f"quality-{name}": f"{measured_line(result)}\n\n{table_text(name, protocol)}"
        for name, protocol in result["protocols"].items()
    }
