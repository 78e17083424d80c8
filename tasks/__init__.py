"""Task families: ``jobs`` (the public job types) and, later, maintenance and notifications."""
