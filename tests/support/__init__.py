"""Fixtures' building blocks: real services, isolation per module, subprocess control."""
