"""The run report: one self-contained HTML file per pipeline run."""
