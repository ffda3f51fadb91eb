"""The contract between trainer and device: manifest, scaling, tensors in and predictions out.

Both sides import this package; it needs NumPy only (``shared.framing.model_input`` also uses OpenCV).
"""
