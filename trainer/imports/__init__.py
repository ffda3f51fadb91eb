"""Models made elsewhere, converted on the workstation: ``piclassify-train import`` of a Keras model."""
