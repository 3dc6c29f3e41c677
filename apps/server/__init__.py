"""A TF Serving-compatible REST server for pushed recsearch bundles."""
