"""Outbound email: the SMTP relay sender and an agent's reply as a threaded email."""
