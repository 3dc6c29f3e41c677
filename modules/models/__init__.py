"""Recommender models, one concept per module."""
