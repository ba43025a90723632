"""Thin glue per domain: unpack the context, call one action, hand back domain objects."""
