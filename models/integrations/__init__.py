"""Integrations: outbound webhooks (endpoints, signed deliveries with durable retries) and
audited CSV exports for the back office."""
