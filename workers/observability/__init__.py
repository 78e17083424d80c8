"""Logging, Sentry and (later) metrics, shared by every process."""
