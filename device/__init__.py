"""The Raspberry Pi side: frame sources, framing, LiteRT inference, CLI and service. Never imports TensorFlow."""

import os

# NumPy's BLAS (OpenBLAS) keeps its worker threads spinning for a while after each matrix product; beside
# LiteRT's own threads that doubled the backbone's invoke time (7 ms -> 15 ms per frame at 2 threads here).
# The device's products are small, so one BLAS thread costs nothing. Read when NumPy loads: set it first.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
