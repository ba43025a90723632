"""Posts: bodies, replies, reposts, likes and edit history."""
