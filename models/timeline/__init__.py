"""Timelines: materialised home feeds and the queries that page every timeline."""
