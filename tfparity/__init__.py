"""tfparity: conformance and benchmark suite for TensorFlow and LiteRT."""

__version__ = "0.1.0"
