"""Events and real time: the outbox dispatcher, the hardened broadcaster backend, the
per-process hub that fans events out to connected subscribers, and catch-up."""
