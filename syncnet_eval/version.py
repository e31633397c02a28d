"""The package version (one place; ``syncnet_eval.__version__`` re-exports it)."""

__version__ = "0.1.0"
