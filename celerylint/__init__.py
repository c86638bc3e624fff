"""celerylint: a static analyzer for Celery projects."""

__version__ = "0.1.0"
