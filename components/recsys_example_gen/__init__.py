"""RecsysExampleGen: reads the configured tables, joins them and splits per user."""
