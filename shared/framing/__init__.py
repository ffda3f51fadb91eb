"""A camera photo to the model's input, as the manifest says; the trainer measures with the same code the device
runs.
"""
