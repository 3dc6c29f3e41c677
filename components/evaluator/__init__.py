"""TFX's Evaluator, told apart a served baseline from an empty one."""
