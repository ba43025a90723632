"""The back office: role-gated schema parts, support and moderation actions, the audit log.

Access control and the audit trail arrive with the roles issue; until then no staff-only
field or mutation exists, so there is nothing privileged to gate."""
