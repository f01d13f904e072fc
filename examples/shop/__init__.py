"""A runnable example application: see README.md in this directory."""
