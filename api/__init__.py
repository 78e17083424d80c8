"""The producer API (FastAPI, in ``api.app``) and its HTTP client (``api.client``, no FastAPI)."""
