"""Platform statistics for administrators: daily counts, bucketed by UTC day."""
