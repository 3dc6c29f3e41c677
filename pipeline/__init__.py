"""The TFX pipeline definition: a pure `create_pipeline` factory."""
