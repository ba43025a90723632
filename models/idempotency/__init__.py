"""Idempotent mutations: a client's key, the fingerprint of its request and the answer it
got, kept for a retention period so a retry is answered without running again."""
