"""Retention: removing the rows of tables that only grow once nothing reads them any more."""
