"""InfraSight: open-source AI-driven safety monitoring of bridges, tunnels and rail lines."""

__version__ = "0.1.0"
__all__ = ["__version__"]
