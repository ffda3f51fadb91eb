"""The workshop's tabular models: importing them, and predicting from values or CSV rows."""
