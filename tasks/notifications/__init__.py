"""Notifications: channels (email, webhook, Slack, Apprise), their secrets and their senders."""
