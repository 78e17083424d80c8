"""Notifications: channels, templates and tracked deliveries."""
