"""The contract itself: the manifest and its fields, pixel scaling and quantization, tensors in and predictions
out, one result.
"""
