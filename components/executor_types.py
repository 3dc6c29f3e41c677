"""The shapes TFX hands every executor's `Do`: artifacts by key, and execution properties."""

from __future__ import annotations

from typing import Any

from tfx import types

Artifacts = dict[str, list[types.Artifact]]
Props = dict[str, Any]
