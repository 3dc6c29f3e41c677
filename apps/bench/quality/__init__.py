"""`recsearch bench quality`: this project's models against the libraries users would pick instead.

Every model of a protocol sees the same split in the same run. This
project's models are built by `model_factory.build_model`, trained with
`model.fit` and the configured optimizer, and scored through
`query_vectors` / `candidate_vectors`: the code the Trainer runs, fed from
index-encoded frames instead of the Transform output (ids are indexed here
the way Transform's vocabularies index them). Peers (`implicit`, Surprise)
come from `requirements/bench.txt`.

Protocols, all on MovieLens 100K:
  ratings      5-fold CV over all ratings, folds shared by every model; RMSE, MAE.
  stratified   75/25 random split within each user; top-10 over the whole catalog.
  temporal     each user's last 20% by time held out (the pipeline's split).
  sequential   each user's last interaction held out; HR@10, NDCG@10 of that item.
Examples per second count every pass: rows x epochs for models trained by
gradient descent, rows once for closed-form and peer models.
Top-K metrics exclude the user's training items and drop test items never seen
in training; they come from `ranking_metrics`, the Evaluator's definitions.
"""

from recsearch.apps.bench.quality.protocols import run
from recsearch.apps.bench.quality.render import protocol_blocks, text

__all__ = ["protocol_blocks", "run", "text"]
