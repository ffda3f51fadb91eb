"""Running a .tflite: which runtime (LiteRT first), opening a model with every failure as one line, its
flatbuffer checked first.
"""
