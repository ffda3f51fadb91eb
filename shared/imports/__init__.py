"""Image classifiers made elsewhere (Teachable Machine, Model Maker, a course's notebook): read, checked, given a
manifest and the backbone's gate, for ``piclassify import`` on the Pi and ``piclassify-train import``.
"""
