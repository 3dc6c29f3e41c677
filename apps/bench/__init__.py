"""Benchmarks: wall-clock, memory and quality figures, printed and recorded in docs/."""
