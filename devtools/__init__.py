"""Development harnesses shared by tests/ and bench/ (not part of the app)."""
