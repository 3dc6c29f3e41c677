"""The roof: what people run. The command line, the local runner, the REST server,
the benchmarks and the report's regeneration (installed as `recsearch.apps`).

Apps may import every layer below them (`recsearch.pipeline`, `recsearch.components`,
`recsearch.modules` and the floor in `recsearch/`); nothing below imports an app.
"""
