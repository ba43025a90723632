"""Transactional email: queued in the caller's transaction, sent after commit by a job."""
