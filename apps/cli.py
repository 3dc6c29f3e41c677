"""The `recsearch` command line."""

from __future__ import annotations

import argparse
import os
import sys

from recsearch import errors
from recsearch.errors import RecsearchError

DEFAULT_OUTPUT = "out"
# The widest item id printed in a ranked list (longer ones are cut).
ID_WIDTH = 40


def _load_config(args: argparse.Namespace):
    from recsearch import config as config_lib
    from recsearch.data import movielens, sample

    if args.config and args.dataset:
        raise RecsearchError("use either --config or --dataset, not both")
    if args.config:
        return config_lib.load_config(args.config)
    if args.dataset == movielens.NAME:
        if not args.data_dir:
            raise RecsearchError("--dataset movielens-100k needs --data-dir DIR")
        return movielens.movielens_config(args.data_dir, task=args.task or "retrieval")
    if args.dataset not in (None, "sample"):
        raise RecsearchError(f"unknown --dataset {args.dataset!r} (known: sample, movielens-100k)")
    data_dir = os.path.join(args.output, "sample-data")
    path = os.path.join(data_dir, "config.yaml")
    if not os.path.isfile(path):
        print(f"Generating the sample shop into {data_dir}", flush=True)
        sample.write(data_dir)
    return config_lib.load_config(path)


def cmd_run(args: argparse.Namespace) -> int:
    from recsearch.apps import local
    from recsearch.components.release_gate.checks import reference_scores

    # The same checks as `validate`, rows included, before anything is written.
    config, rows = local.validate(lambda: _load_config(args), args.span)
    summary = local.run(
        config, args.output, enable_cache=not args.no_cache, span=args.span, rows=rows
    )
    print()
    label, reference = reference_scores(summary.checks)
    print(f"  {'metric':<20} {'candidate':>10} {'served':>13} {label:>11}")
    for name, value in sorted(summary.metrics.items()):
        base = summary.baseline_metrics.get(name)
        versus = f"{base:>13.4f}" if base is not None else f"{'first run':>13}"
        pop = f"{reference[name]:>11.4f}" if name in reference else f"{'-':>11}"
        print(f"  {name:<20} {value:>10.4f} {versus} {pop}")
    if summary.event_metrics:
        print("  by event type (the candidate's):")
        for event, values in sorted(summary.event_metrics.items()):
            shown = "  ".join(f"{n} {v:.4f}" for n, v in sorted(values.items()) if "@" in n)
            print(f"    {event:<12} {shown}")
    for check in summary.checks:
        mark = "ok  " if check["passed"] else "FAIL"
        print(f"  [{mark}] {check['name']}: {check['detail']}")
    if summary.blessed:
        print("Blessed: the candidate passed every release check.")
    else:
        print("Not blessed:")
        for reason in summary.reasons or ["the release gate did not bless the model"]:
            print(f"  - {reason}")
    if summary.selection:
        print("Model auto compared, on each user's latest training interactions:")
        for line in summary.selection:
            print(f"  {line}")
    if summary.served_data:
        print(summary.served_data)
    if summary.pushed_to:
        print(f"Pushed to {summary.pushed_to}")
        print(f"Try it:   recsearch recommend --model-dir {summary.serving_dir} --user <user id>")
    else:
        print("Nothing was pushed.")
    if summary.report:
        print(f"Report:   {summary.report}")
    if summary.disk:
        print(summary.disk.line())
    return 0


def cmd_clean(args: argparse.Namespace) -> int:
    from recsearch.apps import local, retention

    config = _load_config(args)
    keep = args.keep_runs if args.keep_runs is not None else config.release.keep_runs
    paths = local.LocalPaths.under(args.output, config.name)
    if not os.path.isfile(paths.metadata):
        raise RecsearchError(f"{paths.metadata}: no ML Metadata here; has a run written to it?")
    cleaned = retention.clean(paths.metadata, config.name, keep, paths.serving, paths.logs)
    print(
        f"{config.name}: {cleaned.runs} runs in ML Metadata; kept the last {cleaned.kept_runs}; "
        f"removed {cleaned.artifacts} artifacts and {cleaned.logs} logs, "
        f"{retention.human_bytes(cleaned.freed)}"
    )
    print(f"The output folder holds {retention.human_bytes(retention.tree_bytes(paths.output))}.")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from recsearch.apps.report import regenerate

    config = _load_config(args)
    path = regenerate.from_metadata(config, args.output)
    print(f"Report: {path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from recsearch.apps import demo

    demo.spans(args.output)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from recsearch.apps import local

    config, rows = local.validate(lambda: _load_config(args))
    counts = f"{rows['train']} train, {rows['eval']} eval rows"
    print(f"{config.name}: config and data are valid ({counts})")
    for line in rows["story"]:
        print(f"  {line}")
    return 0


def _k_fits(k: int | None, served: int) -> None:
    if k is not None and k > served:
        raise RecsearchError(
            f"--k {k} is more than the bundle serves per answer ({served}; "
            "serving.top_k sets it at training time)"
        )


def _precomputed(args: argparse.Namespace, path: str, users: list[str]) -> list[dict] | None:
    """The bundle's precomputed `recommend` answers (modules/answers.py), without TensorFlow."""
    from recsearch.modules import answers

    found = answers.load(path)
    if found is None:
        return None
    _k_fits(args.k, found.k)
    result = []
    for user in users:
        answer = found.answer(user, args.k)
        result.append(
            {"user_id": user, "items": answer.items, "scores": answer.scores, "known": answer.known}
        )
    return result


def _ranked_query(args: argparse.Namespace, signature: str, name: str, keys: list) -> int:
    """Calls a top-K signature for each key and prints the ranked items (or JSON).

    `recommend` is answered from the bundle's precomputed answers when it has
    them (the same items and scores, without loading TensorFlow).

    Args:
      args: The parsed flags (model_dir, version, k, json).
      signature: recommend, similar_items, search_text or search_image.
      name: The signature's input name.
      keys: The inputs, one answer each; str, or bytes for images.
    """
    from recsearch import bundle

    if args.k is not None and args.k <= 0:
        raise RecsearchError(f"--k must be a positive number of items, got {args.k}")
    path = bundle.resolve(args.model_dir, args.version)
    answers = _precomputed(args, path, keys) if signature == "recommend" else None
    if answers is None:
        answers = _model_answers(args, path, signature, name, keys)
    _print_answers(args, path, name, answers)
    return 0


def _model_answers(
    args: argparse.Namespace, path: str, signature: str, name: str, keys: list
) -> list[dict]:
    import numpy as np
    import tensorflow as tf

    from recsearch import bundle

    model = bundle.load(args.model_dir, args.version)
    if signature not in model.signatures:
        raise RecsearchError(
            f"this bundle has no {signature} signature (it has: "
            f"{', '.join(sorted(model.signatures))}); text and image search need items "
            "with text or images and model.content_weight above 0"
        )
    out = model.signatures[signature](**{name: tf.constant(keys)})
    served = out["item_ids"].shape[1]
    _k_fits(args.k, served)
    labels = [k if isinstance(k, str) else f"image {i + 1}" for i, k in enumerate(keys)]
    if signature == "recommend":
        known = bundle.known_users(path, keys)
    elif "known" in out:
        known = [bool(v) for v in out["known"].numpy()]
    else:
        known = [True] * len(keys)
    answers = []
    for row, label in enumerate(labels):
        items = [v.decode() for v in out["item_ids"].numpy()[row]][: args.k or served]
        scores = out["scores"].numpy()[row][: len(items)]
        finite = [float(v) if np.isfinite(v) else None for v in scores]
        if signature == "similar_items" and all(v is None for v in finite):
            # A bundle from before similar_items had a fallback.
            raise RecsearchError(f"item {label!r} is not in the model's catalog")
        answer = {name: label, "items": items, "scores": finite, "known": known[row]}
        if "known_tokens" in out:
            answer["known_tokens"] = int(out["known_tokens"].numpy()[row])
        answers.append(answer)
    return answers


def _print_answers(args: argparse.Namespace, path: str, name: str, answers: list[dict]) -> None:
    """Prints answers as ranked lines (with titles when the bundle has them) or as JSON."""
    import json

    from recsearch import bundle

    titles = bundle.item_titles(path)
    for answer in answers:
        if not answer["known"]:
            what = name.removesuffix("_id")
            print(
                f"note: {what} {answer[name]!r} is not in the model; these are the most popular "
                "items (their scores are on another scale)",
                file=sys.stderr,
            )
        if answer.get("known_tokens") == 0:
            print(
                f"note: no word of {answer[name]!r} is in the model's vocabulary: these items "
                "are not matches, only the nearest to an empty query",
                file=sys.stderr,
            )
        if titles:
            answer["titles"] = [titles.get(item) for item in answer["items"]]
    if args.json:
        print(json.dumps(answers if len(answers) > 1 else answers[0]))
        return
    # One column width for every answer; a long id (a title used as the id) is cut.
    width = min(max((len(i) for a in answers for i in a["items"]), default=1), ID_WIDTH)
    for answer in answers:
        if len(answers) > 1:
            print(f"{answer[name]}:")
        for rank, (item, score) in enumerate(zip(answer["items"], answer["scores"]), start=1):
            shown = item if len(item) <= width else item[: width - 1] + "…"
            line = f"{rank:>3}  {shown:<{width}}  {'-' if score is None else f'{score:.4f}'}"
            title = titles.get(item) if titles else None
            print(f"{line}  {title}" if title and title != item else line)


def _several(values: list[str] | None, path: str | None, flag: str) -> list[str]:
    """Values of a repeated flag plus the lines of a file (`{flag}s-file`), each once."""
    found = list(values or [])
    if path:
        if not os.path.isfile(path):
            raise RecsearchError(f"{path}: file not found ({flag}s-file)")
        with open(path, encoding="utf-8") as f:
            found += [line.strip() for line in f if line.strip()]
    if not found:
        raise RecsearchError(f"give at least one {flag} (or {flag}s-file)")
    return list(dict.fromkeys(found))


def cmd_recommend(args: argparse.Namespace) -> int:
    users = _several(args.user, args.users_file, "--user")
    return _ranked_query(args, "recommend", "user_id", users)


def cmd_similar(args: argparse.Namespace) -> int:
    return _ranked_query(args, "similar_items", "item_id", _several(args.item, None, "--item"))


def cmd_search(args: argparse.Namespace) -> int:
    if bool(args.text) == bool(args.image):
        raise RecsearchError("give exactly one of --text or --image")
    if args.text:
        return _ranked_query(args, "search_text", "query", args.text)
    images = []
    for path in args.image:
        if not os.path.isfile(path):
            raise RecsearchError(f"{path}: image file not found")
        with open(path, "rb") as f:
            images.append(f.read())
    return _ranked_query(args, "search_image", "image", images)


def cmd_embed(args: argparse.Namespace) -> int:
    import json

    import tensorflow as tf

    from recsearch import bundle

    items = _several(args.item, None, "--item")
    model = bundle.load(args.model_dir, args.version)
    vectors = model.signatures["embed_items"](item_id=tf.constant(items))["embeddings"].numpy()
    unknown = [item for item, v in zip(items, vectors) if not v.any()]
    for item in unknown:
        print(f"note: item {item!r} is not in the model: its embedding is zeros", file=sys.stderr)
    if args.json:
        print(json.dumps({item: v.tolist() for item, v in zip(items, vectors)}))
    else:
        for item, vector in zip(items, vectors):
            print(f"{item}\t" + " ".join(f"{x:.5f}" for x in vector))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np
    import tensorflow as tf

    from recsearch import bundle

    model = bundle.load(args.model_dir, args.version)
    out = model.signatures["predict"](
        user_id=tf.constant([args.user]), item_id=tf.constant([args.item])
    )
    score = float(out["scores"].numpy()[0])
    if not np.isfinite(score):
        raise RecsearchError(f"item {args.item!r} is not in the model's catalog")
    path = bundle.resolve(args.model_dir, args.version)
    if not bundle.known_users(path, [args.user])[0]:
        print(
            f"note: user {args.user!r} is not in the model; scored as an unknown user",
            file=sys.stderr,
        )
    print(f"{score:.4f}")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from recsearch import versions

    served = versions.rollback(args.model_dir, args.to)
    print(f"{args.model_dir}: version {served} is now the served version")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import logging

    from recsearch.apps.server import app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    name = args.name or os.path.basename(os.path.normpath(args.model_dir))
    app.check_servable(args.model_dir, args.host, args.port)
    print(f"Serving {name} from {args.model_dir} on http://{args.host}:{args.port}", flush=True)
    app.serve(
        args.model_dir,
        name,
        port=args.port,
        host=args.host,
        poll_seconds=args.poll_seconds,
        max_batch=args.max_batch,
        use_binary=not args.no_binary,
    )
    return 0


def cmd_compile(args: argparse.Namespace) -> int:
    from recsearch.kubeflow import runner

    config = _load_config(args)
    path = runner.compile_pipeline(
        config,
        args.spec or f"{config.name}-pipeline.json",
        image=args.image,
        pipeline_root=args.pipeline_root,
        data_root=args.data_root,
    )
    print(f"Wrote the Kubeflow Pipelines v2 spec to {path}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    import shutil

    from recsearch.apps.local import LocalPaths
    from recsearch.apps.results import latest_artifact_uri

    config = _load_config(args)
    paths = LocalPaths.under(args.output, config.name)
    if not os.path.isfile(paths.metadata):
        raise RecsearchError(
            f"no run under {paths.output} yet (no {os.path.basename(paths.metadata)}): "
            f"run `recsearch run` with this config first, or pass the --output of a run"
        )
    try:
        uri = latest_artifact_uri(paths.metadata, config.name, "Schema", producer="SchemaGen")
    except LookupError as error:
        raise RecsearchError(f"{paths.metadata}: {error}; run the pipeline first") from None
    target = args.to or os.path.join("schemas", f"{config.name}.pbtxt")
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    shutil.copy(os.path.join(uri, "schema.pbtxt"), target)
    print(
        f"Wrote the schema of the latest run to {target}; curate it, then set "
        f"`schema: {target}` in the config"
    )
    return 0


def cmd_manifests(args: argparse.Namespace) -> int:
    from recsearch.apps import k8s

    spec = k8s.ServingSpec(
        name=args.name,
        model_base_path=args.model_base_path,
        image=args.image or k8s.TF_SERVING_IMAGE,
        replicas=args.replicas,
        service_account=args.service_account,
    )
    k8s.check_spec(spec)
    manifests = [k8s.kserve(spec)] if args.kserve else k8s.tf_serving(spec)
    for manifest in manifests:
        k8s.validate(manifest)
    text = k8s.dump(manifests)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"Wrote {len(manifests)} validated manifests to {args.output}")
    else:
        print(text)
    return 0


def _kfp_target(args: argparse.Namespace):
    from recsearch.kubeflow import client

    job = client.read_job(args.spec)
    params = client.arguments(
        job,
        data_root=args.data_root,
        span=args.span,
        train_steps=args.train_steps,
        model=args.model,
    )
    return job, params


def _target(args: argparse.Namespace, job: dict) -> str:
    from recsearch.kubeflow.runner import TARGET_LABEL

    return args.target or job.get("labels", {}).get(TARGET_LABEL, "kfp")


def _vertex_place(args: argparse.Namespace, job: dict) -> tuple[str | None, str]:
    """--project and --region, else the kubeflow.project and region the spec was compiled with."""
    from recsearch.kubeflow.runner import PROJECT_LABEL, REGION_LABEL

    labels = job.get("labels", {})
    region = args.region or labels.get(REGION_LABEL) or "us-central1"
    return args.project or labels.get(PROJECT_LABEL), region


def cmd_submit(args: argparse.Namespace) -> int:
    from recsearch.kubeflow import client

    job, params = _kfp_target(args)
    if _target(args, job) == "vertex":
        name = client.submit_vertex(
            args.spec, *_vertex_place(args, job), params, args.service_account
        )
        print(f"Created Vertex AI pipeline run {name}")
        return 0
    run_id = client.submit(args.spec, args.host, args.namespace, args.experiment, params)
    print(f"Created run {run_id} in experiment {args.experiment!r}")
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    from recsearch.kubeflow import client

    client.kfp_cron(args.cron)  # checked before anything else
    job, params = _kfp_target(args)
    if _target(args, job) == "vertex":
        name = client.schedule_vertex(
            args.spec,
            *_vertex_place(args, job),
            args.cron,
            params,
            args.service_account,
            args.name,
        )
        print(f"Created Vertex AI pipeline schedule {name} ({args.cron})")
        return 0
    job_id = client.schedule(
        args.spec, args.host, args.namespace, args.experiment, args.cron, params, args.name
    )
    print(f"Created recurring run {job_id} ({client.kfp_cron(args.cron)})")
    return 0


def _add_kfp_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spec", required=True, help="the JSON written by `recsearch compile`")
    parser.add_argument(
        "--target",
        choices=["kfp", "vertex"],
        help="open-source KFP or Vertex AI (default: the kubeflow.target it was compiled for)",
    )
    parser.add_argument("--host", help="KFP API endpoint (default: KF_PIPELINES_ENDPOINT)")
    parser.add_argument("--namespace", default="kubeflow", help="KFP: Kubernetes namespace")
    parser.add_argument("--experiment", default="recsearch", help="KFP: experiment of the run")
    parser.add_argument(
        "--project", help="Vertex: Google Cloud project (default: the compiled kubeflow.project)"
    )
    parser.add_argument(
        "--region", help="Vertex: region (default: the compiled kubeflow.region, us-central1)"
    )
    parser.add_argument("--service-account", help="Vertex: service account the run uses")
    parser.add_argument(
        "--data-root", help="runtime parameter: where the tables are (gs:// or s3://)"
    )
    parser.add_argument("--span", type=int, help="runtime parameter: the span to train on")
    parser.add_argument("--train-steps", type=int, help="runtime parameter: training steps")
    parser.add_argument("--model", help="runtime parameter: the model family")


# Benchmarks that print one table and record it in the docs block of their name:
# name -> (module under apps/bench, whether it reads MovieLens from --data-dir).
TABLE_BENCHES = {
    "similar": ("similar_bench", True),
    "gate": ("gate_bench", False),
    "warmstart": ("warmstart_bench", False),
    "reruns": ("reruns_bench", False),
}


def cmd_bench(args: argparse.Namespace) -> int:
    from recsearch.apps.bench import pipeline_bench

    if args.which == "pipeline":
        if not args.data_dir:
            raise RecsearchError("bench pipeline needs --data-dir (the MovieLens 100K files)")
        pipeline_bench.run(args.data_dir, args.output, write_docs=args.write_docs)
    elif args.which == "objective":
        from recsearch.apps.bench import objective_bench

        objective_bench.run(args.output, write_docs=args.write_docs)
    elif args.which == "two-stage":
        from recsearch.apps.bench import two_stage_bench

        if not args.data_dir:
            raise RecsearchError("bench two-stage needs --data-dir (the MovieLens 100K files)")
        two_stage_bench.run(args.data_dir, args.output, write_docs=args.write_docs)
    elif args.which == "freshness":
        from recsearch.apps.bench import freshness_bench

        if not args.data_dir:
            raise RecsearchError("bench freshness needs --data-dir (the MovieLens 100K files)")
        freshness_bench.run(args.data_dir, args.output, write_docs=args.write_docs)
    elif args.which == "serving":
        from recsearch.apps.bench import serving_bench

        movielens = os.path.join(args.output, "serving", "movielens")
        serving_bench.run(movielens, args.output, write_docs=args.write_docs)
    elif args.which == "ann":
        import time as clock

        from recsearch.apps.bench import ann_bench, docs
        from recsearch.apps.bench.pipeline_bench import machine

        rows = ann_bench.run()
        text = (
            f"Measured {clock.strftime('%Y-%m-%d')} on {machine()}. Command: "
            f"`recsearch bench ann`.\n\n" + ann_bench.table(rows)
        )
        print(text)
        if args.write_docs:
            docs.replace_block(args.write_docs, "ann", text)
    elif args.which == "quality":
        from recsearch.apps.bench import docs, quality

        if not args.data_dir:
            raise RecsearchError("bench quality needs --data-dir (the MovieLens 100K files)")
        result = quality.run(args.data_dir, tuple(args.protocols.split(",")))
        if args.write_docs:
            for block, text in quality.protocol_blocks(result).items():
                docs.replace_block(args.write_docs, block, text)
    elif args.which == "scale":
        from recsearch.apps.bench import scale_bench

        sizes = [scale_bench.parse_size(s) for s in args.sizes.split(",")]
        contents = [c.strip() for c in args.content.split(",")]
        unknown = sorted(set(contents) - {"ids", "full"})
        if unknown:
            raise RecsearchError(f"--content: unknown {', '.join(unknown)} (known: ids, full)")
        scale_bench.run(sizes, contents, args.output, write_docs=args.write_docs)
    elif args.which == "shapes":
        from recsearch.apps.bench import shapes_bench

        only = [o.strip() for o in args.only.split(",")] if args.only else None
        shapes_bench.run(args.output, only, write_docs=args.write_docs, data_dir=args.data_dir)
    elif args.which in TABLE_BENCHES:
        import importlib

        from recsearch.apps.bench import docs

        module, needs_data = TABLE_BENCHES[args.which]
        bench = importlib.import_module(f"recsearch.apps.bench.{module}")
        if needs_data and not args.data_dir:
            raise RecsearchError(f"bench {args.which} needs --data-dir (the MovieLens 100K files)")
        result = bench.run(args.data_dir, args.output) if needs_data else bench.run(args.output)
        text = bench.table(result)
        print(text)
        if args.write_docs:
            docs.replace_block(args.write_docs, args.which, text)
    elif args.which == "content":
        from recsearch.apps.bench import content_bench, docs

        result = content_bench.run(args.data_dir, args.output)
        text = docs.content_table(result)
        print(text)
        if args.write_docs:
            docs.replace_block(args.write_docs, "content", text)
    return 0


def _add_source_args(parser: argparse.ArgumentParser, output: bool = True) -> None:
    parser.add_argument("--config", help="YAML config (default: the embedded sample shop)")
    parser.add_argument("--dataset", help="built-in data set: sample or movielens-100k")
    parser.add_argument("--data-dir", help="directory of the --dataset files")
    parser.add_argument("--task", choices=["retrieval", "rating"], help="task for --dataset")
    if output:
        parser.add_argument("--output", default=DEFAULT_OUTPUT, help="output root (default: out)")
    else:
        parser.set_defaults(output=DEFAULT_OUTPUT)


def _add_pipeline_commands(commands) -> None:
    """run, report, clean, demo, validate, schema: the local pipeline and its data."""
    run = commands.add_parser("run", help="run the pipeline locally")
    _add_source_args(run)
    run.add_argument("--no-cache", action="store_true", help="rerun every component")
    run.add_argument(
        "--span", type=int, help="span to train on, for a {SPAN} path (default: newest)"
    )
    run.set_defaults(func=cmd_run)

    report = commands.add_parser("report", help="rebuild the HTML report of the latest run")
    _add_source_args(report)
    report.set_defaults(func=cmd_report)

    clean = commands.add_parser(
        "clean", help="remove the artifacts of runs older than the last release.keep_runs"
    )
    _add_source_args(clean)
    clean.add_argument(
        "--keep-runs", type=int, help="runs to keep (default: the config's release.keep_runs)"
    )
    clean.set_defaults(func=cmd_clean)

    demo_ = commands.add_parser("demo", help="retraining over three days of arriving data")
    demo_.add_argument("which", choices=["spans"])
    demo_.add_argument("--output", default="out/demo")
    demo_.set_defaults(func=cmd_demo)

    validate = commands.add_parser("validate", help="check a config and its data")
    _add_source_args(validate)
    validate.set_defaults(func=cmd_validate)

    schema = commands.add_parser("schema", help="export the latest inferred schema to curate")
    _add_source_args(schema)
    schema.add_argument("--to", help="file to write (default: schemas/<name>.pbtxt)")
    schema.set_defaults(func=cmd_schema)


def _add_query_commands(commands) -> None:
    """recommend, similar, search, embed, predict, rollback: a pushed bundle, from the terminal."""

    def query_flags(parser: argparse.ArgumentParser, k: bool = True) -> None:
        parser.add_argument(
            "--model-dir", required=True, help="a pushed model base directory, or one version"
        )
        parser.add_argument("--version", type=int, help="a pushed version (default: the newest)")
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
        if k:
            parser.add_argument(
                "--k", type=int, help="items per answer, at most the bundle's top K (default: all)"
            )

    recommend = commands.add_parser("recommend", help="top items for users from a bundle")
    query_flags(recommend)
    recommend.add_argument(
        "--user", action="append", help="a user id (repeat --user for several users)"
    )
    recommend.add_argument("--users-file", help="a file of user ids, one per line")
    recommend.set_defaults(func=cmd_recommend)

    similar = commands.add_parser("similar", help="items most like an item (similar_items)")
    query_flags(similar)
    similar.add_argument("--item", action="append", help="an item id (repeat for several)")
    similar.set_defaults(func=cmd_similar)

    search = commands.add_parser("search", help="items for a text query or an image")
    query_flags(search)
    search.add_argument("--text", action="append", help="a text query (repeat for several)")
    search.add_argument("--image", action="append", help="an image file (repeat for several)")
    search.set_defaults(func=cmd_search)

    embed = commands.add_parser("embed", help="the item vectors the bundle serves (embed_items)")
    query_flags(embed, k=False)
    embed.add_argument("--item", action="append", help="an item id (repeat for several)")
    embed.set_defaults(func=cmd_embed)

    predict = commands.add_parser("predict", help="score one user-item pair")
    predict.add_argument(
        "--model-dir", required=True, help="a pushed model base directory, or one version"
    )
    predict.add_argument("--user", required=True, help="the user id")
    predict.add_argument("--item", required=True, help="the item id")
    predict.add_argument("--version", type=int, help="a pushed version (default: the newest)")
    predict.set_defaults(func=cmd_predict)
    rollback = commands.add_parser("rollback", help="serve an older pushed version again")
    rollback.add_argument("--model-dir", required=True, help="model base directory")
    rollback.add_argument("--to", type=int, help="version to serve (default: the previous one)")
    rollback.set_defaults(func=cmd_rollback)


def _add_serving_commands(commands) -> None:
    """serve and manifests: the model over REST, here or on Kubernetes."""
    serve = commands.add_parser("serve", help="serve a model base directory over REST")
    serve.add_argument("--model-dir", required=True, help="base directory of numbered versions")
    serve.add_argument("--name", help="model name in URLs (default: the directory's name)")
    serve.add_argument("--port", type=int, default=8501, help="REST port (default: 8501)")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 for all)",
    )
    serve.add_argument(
        "--poll-seconds", type=float, default=2.0, help="how often new versions are looked for"
    )
    serve.add_argument(
        "--max-batch", type=int, default=1000, help="most instances in one request (default 1000)"
    )
    serve.add_argument("--no-binary", action="store_true", help="never use tensorflow_model_server")
    serve.set_defaults(func=cmd_serve)

    manifests = commands.add_parser("manifests", help="Kubernetes manifests for TF Serving")
    manifests.add_argument("--name", required=True, help="model name")
    manifests.add_argument("--model-base-path", required=True, help="the Pusher's base directory")
    manifests.add_argument("--image", help="serving image (default: a TF Serving image)")
    manifests.add_argument("--replicas", type=int, default=2)
    manifests.add_argument("--service-account")
    manifests.add_argument("--kserve", action="store_true", help="a KServe InferenceService")
    manifests.add_argument("--output", help="file to write (default: print)")
    manifests.set_defaults(func=cmd_manifests)


def _add_kubeflow_commands(commands) -> None:
    """compile, submit, schedule: the pipeline on Kubeflow Pipelines or Vertex."""
    compile_ = commands.add_parser("compile", help="write the Kubeflow Pipelines v2 spec")
    _add_source_args(compile_, output=False)
    compile_.add_argument(
        "--output", dest="spec", help="output JSON file (default: <name>-pipeline.json)"
    )
    compile_.add_argument("--image", help="pipeline image (default: kubeflow.image)")
    compile_.add_argument("--pipeline-root", help="artifact root (default: kubeflow.pipeline_root)")
    compile_.add_argument(
        "--data-root",
        help="where the tables are on the cluster, gs:// or s3:// (default: kubeflow.data_root); "
        "relative table paths are read under it",
    )
    compile_.set_defaults(func=cmd_compile)

    submit = commands.add_parser("submit", help="create a Kubeflow Pipelines run")
    _add_kfp_args(submit)
    submit.set_defaults(func=cmd_submit)

    schedule = commands.add_parser("schedule", help="create a recurring Kubeflow Pipelines run")
    _add_kfp_args(schedule)
    schedule.add_argument("--cron", required=True, help='for example "0 3 * * *" (03:00 daily)')
    schedule.add_argument("--name", help="name of the recurring run")
    schedule.set_defaults(func=cmd_schedule)


def _add_bench_command(commands) -> None:
    """bench: a benchmark, its figures printed (and written to the docs)."""
    bench = commands.add_parser("bench", help="run a benchmark and print its figures")
    bench.add_argument(
        "which",
        choices=[
            "pipeline",
            "freshness",
            "objective",
            "two-stage",
            "serving",
            "content",
            "ann",
            "quality",
            "scale",
            "shapes",
            "similar",
            "reruns",
            "gate",
            "warmstart",
        ],
        help="pipeline: MovieLens 100K end to end; freshness: the default pipeline on each "
        "user's first 80%%, its pushed bundle scored on the last 20%%; "
        "objective: the sample shop trained toward purchases and toward any event; "
        "two-stage: MovieLens 100K, retrieval alone and retrieval then a ranker; "
        "serving: recommend latency and load; "
        "content: text and image search, cold start; ann: ScaNN against brute force; "
        "quality: the model zoo against Surprise, implicit and EASE on shared splits; "
        "scale: the whole pipeline on the generated shop at growing sizes; "
        "shapes: the default pipeline on generated logs of other shapes (1k-50k items, "
        "rated, sparse, without timestamps or metadata); "
        "similar: MovieLens 100K similar_items by the content model and by auto's winner; "
        "reruns: the sample shop's unchanged rerun, a release-only change, and the output "
        "folder over ten runs; gate: ten cache-off reruns and ten clearly worse models "
        "against the served model; warmstart: five daily spans under three warm-start "
        "schedules, each day's bundle scored on the next day",
    )
    bench.add_argument(
        "--only",
        help="bench shapes: run only the shapes whose name contains one of these "
        "(comma-separated, e.g. 10k-items-implicit-dense-timed-meta,rated)",
    )
    bench.add_argument(
        "--sizes",
        default="1m,3m,10m",
        help="bench scale: interactions per run, comma-separated (1m, 300k, 5000)",
    )
    bench.add_argument(
        "--content",
        default="ids,full",
        help="bench scale: ids (the log alone), full (text, images, side tables) or both",
    )
    bench.add_argument(
        "--protocols",
        default="ratings,stratified,temporal,sequential",
        help="bench quality: comma-separated subset of ratings,stratified,temporal,sequential",
    )
    bench.add_argument("--data-dir", help="directory with the MovieLens 100K files")
    bench.add_argument("--output", default="out/bench", help="output root (default: out/bench)")
    bench.add_argument("--write-docs", metavar="FILE", help="also record the figures in FILE")
    bench.set_defaults(func=cmd_bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recsearch", description="TFX pipelines for deep-learning recommendation and search."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    for add in (
        _add_pipeline_commands,
        _add_query_commands,
        _add_serving_commands,
        _add_kubeflow_commands,
        _add_bench_command,
    ):
        add(commands)
    return parser


def _user_error(error: BaseException) -> RecsearchError | None:
    return errors.find_cause(error, RecsearchError)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as e:
        user_error = _user_error(e)
        if user_error is None:
            raise
        print(f"error: {user_error}", file=sys.stderr)
        if isinstance(user_error, errors.RunStopped):
            return 128 + user_error.signum  # as a shell reports a process ended by it
        return 2


def run() -> None:
    """Console-script entry point.

    Exits without interpreter teardown once the streams are flushed: TensorFlow
    2.16 otherwise prints "Exception ignored in AtomicFunction.__del__" for
    every function of a loaded SavedModel.
    """
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
