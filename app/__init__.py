"""Chirp's application package: settings, the ASGI composition root and the CLI."""
