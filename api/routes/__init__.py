"""The API's routers: jobs, queues and health."""
