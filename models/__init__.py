"""The domain: one package per domain, with tables, actions, policies and errors."""
