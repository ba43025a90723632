"""Test infrastructure: real databases, real Redis, real servers."""
