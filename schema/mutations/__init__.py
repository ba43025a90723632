"""Mutations, one module per domain; each returns a union of its payload and its errors."""
