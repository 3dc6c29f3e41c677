"""Kubeflow Pipelines v2: compiling and submitting the pipeline."""
