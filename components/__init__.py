"""Custom TFX components, one per folder (component, executor, tests)."""
