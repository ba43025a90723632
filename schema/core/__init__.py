"""What every domain of the GraphQL surface shares: errors and declared results, paging,
permissions, and the extensions that run each operation."""
