"""What the trainer learns from, found the way a user's machine has it: IDX datasets, clothing photos, rendered
scenes and photos.
"""
