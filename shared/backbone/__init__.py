"""The ImageNet backbone on both sides: its features and logits of a photo, and the head a photo model keeps on
top of it.
"""
