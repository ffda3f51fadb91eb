"""The tabular models' contract: their CSV input and their manifest section."""
