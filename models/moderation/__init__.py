"""Moderation: reports gathered into cases, staff actions with strikes, appeals."""
