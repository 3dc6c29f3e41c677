"""The built-in model families: importing this module registers each of them.

`recsearch/model_registry.py` imports it (by name) the first time the registry
is read. Each family's module registers itself when imported, in the order of
`BUILTIN` below: `model_registry.for_task` lists each task's families in it.
"""

import importlib

BUILTIN = (
    "two_tower",
    "ease",
    "mult_vae",
    "item2vec",
    "wmf",
    "bias",
    "mf",
    "hybrid_mf",
    "autorec",
    "mf_autorec",
    "neumf",
    "wide_deep",
    "deepfm",
    "dcn",
    "gru4rec",
    "sasrec",
)

for _name in BUILTIN:
    importlib.import_module(f"recsearch.modules.models.{_name}")
