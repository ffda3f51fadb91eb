"""The Keras networks trained from scratch: build, train, export to TFLite, evaluate with the device's code, report."""
