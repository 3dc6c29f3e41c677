"""recsearch: an orchestrated TFX pipeline for deep-learning recommendation and search.

TFX 1.16, TFMA and TensorFlow Recommenders need Keras 2 (tf-keras). TensorFlow 2.16
defaults to Keras 3, so the switch is set here, before anything imports TensorFlow.
"""

import os
import warnings

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Google client libraries warn about Python 3.10 at import; TFX 1.16 requires it.
warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\..*")

# Beam's local runner can drop a bundle's input under load; fixed before any pipeline runs.
from recsearch import beam_fixes  # noqa: E402

beam_fixes.install()

__version__ = "0.1.0"
