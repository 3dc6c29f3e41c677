"""Writing benchmark figures into docs/benchmarks.md, between marker comments."""

from __future__ import annotations

import re


def pipeline_table(result: dict) -> str:
    rows = [
        f"Measured {result['date']} on {result['machine']}.",
        f"Command: `{result['command']}`. Wall clock {result['wall_seconds']} s, "
        f"peak RSS {result['peak_rss_gib']} GiB. Split: {result['rows']['train']} train and "
        f"{result['rows']['eval']} eval interactions, {result['rows']['users']} eval users.",
        "",
        "| component | seconds |",
        "|---|---|",
        *[f"| {name} | {seconds} |" for name, seconds in result["components"].items()],
        "",
        "| model | Recall@10 | NDCG@10 |",
        "|---|---|---|",
        *[
            f"| {name} | {m['recall']:.4f} | {m['ndcg']:.4f} |"
            for name, m in result["models"].items()
        ],
    ]
    return "\n".join(rows)


def serving_table(result: dict) -> str:
    rows = [
        f"Measured {result['date']} on {result['machine']}. Command: `{result['command']}`.",
        "",
        "| catalog | path | p50 ms | p99 ms | QPS (1 client) |",
        "|---|---|---|---|---|",
    ]
    for name, case in result["cases"].items():
        for path, label in (("in_process", "in process"), ("rest", "REST, loopback")):
            m = case[path]
            rows.append(f"| {name} | {label} | {m['p50_ms']} | {m['p99_ms']} | {m['qps']} |")
    rows += [
        "",
        "| catalog | clients | seconds | served | errors | QPS | server RSS before / after (MiB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, case in result["cases"].items():
        load = case["rest"]["load"]
        rows.append(
            f"| {name} | {load['clients']} | {load['seconds']} | {load['served']} | "
            f"{load['errors']} | {load['qps']} | {load['rss_mib_before']} / "
            f"{load['rss_mib_after']} |"
        )
    return "\n".join(rows)


def content_table(result: dict) -> str:
    def rows(title: str, figures: dict) -> list[str]:
        return [f"| {title} | {name} | {value:.3f} |" for name, value in figures.items()]

    shop, digits = result["shop"], result["digits"]
    lines = [
        f"Measured {result['date']} on {result['machine']}. Command: `{result['command']}`.",
        "",
        "Search and cold start, through the exported bundle's signatures:",
        "",
        "| figure | method | value |",
        "|---|---|---|",
        *rows(
            f"cold-start Recall@10 ({shop['cold_items']} of {shop['items']} shop items never "
            f"seen in training; {shop['cold_users']} users)",
            shop["cold_recall_at_10"],
        ),
        *rows("shop text search precision@10 (same category)", shop["text_search_precision_at_10"]),
        *rows(
            "shop image search precision@10 (same category)", shop["image_search_precision_at_10"]
        ),
        *rows(
            f"digits image search precision@10 (same digit, {digits['images']} images)",
            digits["image_search_precision_at_10"],
        ),
    ]
    if "movielens" in result:
        lines += rows(
            "MovieLens 100K text search precision@10 (shares a genre)",
            result["movielens"]["text_search_precision_at_10"],
        )
    lines += [
        "",
        f"Share of shop users' top-10 lists that hold a cold item: "
        f"{shop['share_of_top10_lists_with_a_cold_item']:.3f}.",
    ]
    return "\n".join(lines)


def replace_block(path: str, name: str, text: str) -> None:
    """Replaces the text between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`.

    Raises:
      ValueError: The markers are missing from the file.
    """
    with open(path, encoding="utf-8") as f:
        content = f.read()
    pattern = re.compile(rf"(<!-- bench:{name} -->\n).*?(\n<!-- /bench:{name} -->)", re.S)
    if not pattern.search(content):
        raise ValueError(f"{path}: no <!-- bench:{name} --> block")
    content = pattern.sub(lambda m: m.group(1) + text + m.group(2), content)
    with open(path, "w", encoding="utf-8") as f:
        f.write(content)


def record(result: dict, text: str, output: str, name: str, write_docs: str | None) -> dict:
    """Prints a benchmark's table, saves `bench-<name>.json` under `output` and, with
    `write_docs`, replaces the `<!-- bench:<name> -->` block of that file. Returns `result`."""
    import json
    import os

    print(text)
    os.makedirs(output, exist_ok=True)
    with open(os.path.join(output, f"bench-{name}.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    if write_docs:
        replace_block(write_docs, name, text)
    return result
