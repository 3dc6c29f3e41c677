"""ServedModel: the model users get now, as the baseline of the next candidate."""
