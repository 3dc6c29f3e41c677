"""DataGate: stops the run before training when the data has schema anomalies."""
