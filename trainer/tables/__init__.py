"""Training the workshop's tabular models: the admission table's data, recipe, training and evaluation."""
