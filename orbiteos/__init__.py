"""OrbitEOS: an open energy orchestration engine."""

__version__ = "0.1.0"
