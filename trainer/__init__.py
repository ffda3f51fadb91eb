"""The workstation side: load data, train, quantize to TFLite, verify, write model + manifest."""
