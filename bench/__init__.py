"""Reproducible benchmarks: Taskyard against bare Celery, side by side in one run (`make bench`)."""
