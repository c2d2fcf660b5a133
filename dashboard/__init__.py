"""The web dashboard: a FastAPI app served from inside the hub process."""
