"""The GraphQL surface, one package per domain, and `core`, which every domain shares. The
schema is composed from these packages in `app.schema`."""
