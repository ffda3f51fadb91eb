"""The Raspberry Pi side: frame sources, framing, LiteRT inference, CLI and service. Never imports TensorFlow."""
