"""The back office: the domains that exist only for staff (roles, support tools, audit log,
statistics, moderation queue, integrations, exports, operations), one package each, every
field gated by `@requiresRole`. Domain rules live in `models/`; staff fields on shared types
are attached by the composition (`app.schema`)."""
