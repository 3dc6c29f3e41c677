"""The `recsearch` command line."""

from __future__ import annotations

import argparse
import os
import sys

from recsearch.errors import RecsearchError

DEFAULT_OUTPUT = "out"


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
    from recsearch import local

    config = _load_config(args)
    summary = local.run(config, args.output, enable_cache=not args.no_cache)
    print()
    for name, value in sorted(summary.metrics.items()):
        base = summary.baseline_metrics.get(name)
        versus = f"   (last blessed: {base:.4f})" if base is not None else ""
        print(f"  {name:<28} {value:.4f}{versus}")
    if summary.blessed:
        print("Blessed: the candidate passed every threshold.")
    else:
        print("Not blessed:")
        for reason in summary.reasons or ["the Evaluator did not bless the model"]:
            print(f"  - {reason}")
    if summary.pushed_to:
        print(f"Pushed to {summary.pushed_to}")
        print(f"Try it:   recsearch recommend --model-dir {summary.serving_dir} --user <user id>")
    else:
        print("Nothing was pushed.")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from recsearch import local

    config = _load_config(args)
    rows = local.check_data(config)
    counts = f"{rows['train']} train, {rows['eval']} eval rows"
    print(f"{config.name}: config and data are valid ({counts})")
    return 0


def cmd_recommend(args: argparse.Namespace) -> int:
    import tensorflow as tf

    from recsearch import bundle

    model = bundle.load(args.model_dir, args.version)
    out = model.signatures["recommend"](user_id=tf.constant([args.user]))
    items = [v.decode() for v in out["item_ids"].numpy()[0]]
    scores = out["scores"].numpy()[0]
    if args.k is not None:
        if args.k > len(items):
            print(f"note: the bundle serves {len(items)} items per user", file=sys.stderr)
        items, scores = items[: args.k], scores[: args.k]
    for rank, (item, score) in enumerate(zip(items, scores), start=1):
        print(f"{rank:>3}  {item:<20} {score:.4f}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import tensorflow as tf

    from recsearch import bundle

    model = bundle.load(args.model_dir, args.version)
    out = model.signatures["predict"](
        user_id=tf.constant([args.user]), item_id=tf.constant([args.item])
    )
    print(f"{out['scores'].numpy()[0]:.4f}")
    return 0


def cmd_compile(args: argparse.Namespace) -> int:
    from recsearch.kubeflow import runner

    config = _load_config(args)
    path = runner.compile_pipeline(
        config,
        args.spec or f"{config.name}-pipeline.json",
        image=args.image,
        pipeline_root=args.pipeline_root,
    )
    print(f"Wrote the Kubeflow Pipelines v2 spec to {path}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from recsearch.bench import pipeline_bench

    if args.which == "pipeline":
        pipeline_bench.run(args.data_dir, args.output, write_docs=args.write_docs)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recsearch", description="TFX pipelines for deep-learning recommendation and search."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the pipeline locally")
    _add_source_args(run)
    run.add_argument("--no-cache", action="store_true", help="rerun every component")
    run.set_defaults(func=cmd_run)

    validate = commands.add_parser("validate", help="check a config and its data")
    _add_source_args(validate)
    validate.set_defaults(func=cmd_validate)

    recommend = commands.add_parser("recommend", help="top items for a user from a bundle")
    recommend.add_argument("--model-dir", required=True, help="pushed model base dir or version")
    recommend.add_argument("--user", required=True)
    recommend.add_argument("--k", type=int)
    recommend.add_argument("--version", type=int)
    recommend.set_defaults(func=cmd_recommend)

    predict = commands.add_parser("predict", help="score one user-item pair")
    predict.add_argument("--model-dir", required=True)
    predict.add_argument("--user", required=True)
    predict.add_argument("--item", required=True)
    predict.add_argument("--version", type=int)
    predict.set_defaults(func=cmd_predict)
    compile_ = commands.add_parser("compile", help="write the Kubeflow Pipelines v2 spec")
    _add_source_args(compile_, output=False)
    compile_.add_argument(
        "--output", dest="spec", help="output JSON file (default: <name>-pipeline.json)"
    )
    compile_.add_argument("--image", default="ghcr.io/example/recsearch:0.1.0")
    compile_.add_argument("--pipeline-root", default="gs://YOUR_BUCKET/recsearch")
    compile_.set_defaults(func=cmd_compile)

    bench = commands.add_parser("bench", help="run a benchmark and print its figures")
    bench.add_argument("which", choices=["pipeline"], help="pipeline: MovieLens 100K end to end")
    bench.add_argument("--data-dir", required=True, help="directory with the MovieLens 100K files")
    bench.add_argument("--output", default="out/bench", help="output root (default: out/bench)")
    bench.add_argument("--write-docs", metavar="FILE", help="also record the figures in FILE")
    bench.set_defaults(func=cmd_bench)
    return parser


def _user_error(error: BaseException) -> RecsearchError | None:
    while error is not None:
        if isinstance(error, RecsearchError):
            return error
        error = error.__cause__ or error.__context__
    return None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as e:
        user_error = _user_error(e)
        if user_error is None:
            raise
        print(f"error: {user_error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
