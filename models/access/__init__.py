"""Access control: staff roles, their ranks, and the second factor staff must use."""
