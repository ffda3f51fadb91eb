"""Models made elsewhere: ``piclassify import`` (image classifiers, and the workshop's table models)."""
