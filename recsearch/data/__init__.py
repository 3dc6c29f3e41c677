"""Reading, checking, generating and splitting the data sources."""
