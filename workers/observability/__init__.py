"""Logging, Sentry and Prometheus metrics, shared by every process."""
