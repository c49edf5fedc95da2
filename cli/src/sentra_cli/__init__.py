"""The sentra command line: run the platform on one machine and use it."""
