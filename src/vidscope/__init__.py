"""vidscope: video classification and event detection on frozen per-frame features."""

__version__ = "0.1.0"
