"""The data and model both sides of the distributed-training test use."""

import numpy as np

STEPS = 3
GLOBAL_BATCH = 8


def data() -> dict:
    rng = np.random.default_rng(0)
    n = STEPS * GLOBAL_BATCH
    return {
        "user_id": rng.integers(0, 5, n).astype(np.int64),
        "item_id": rng.integers(0, 7, n).astype(np.int64),
        "rating": rng.uniform(1, 5, n).astype(np.float32),
    }


def model_kwargs() -> dict:
    return {"num_users": 5, "num_items": 7, "dim": 4, "global_mean": 3.0, "seed": 1}
