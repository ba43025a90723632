"""Support: staff helping an account's owner (ending sessions), always with a reason."""
