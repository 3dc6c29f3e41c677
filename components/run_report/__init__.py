"""RunReport: the run report as an HTML artifact, a Markdown summary and metrics."""
