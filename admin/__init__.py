"""The back office: the staff parts of the one schema (roles, audit log, support,
moderation, integrations), each gated by `@requiresRole`. Domain rules live in `models/`;
these modules declare the staff fields and call resolvers."""
