"""Teaching and measuring "nothing in view": the background class, and the reject rates measured through the
device's code.
"""
