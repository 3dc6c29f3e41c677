"""Code run inside TFX components: features, preprocessing_fn, models and run_fn."""
