"""Operator tools beside the CLI: the benchmark and the relay sink it measures against."""
