"""Inbound channels: each turns one provider's wire format into envelopes for intake."""
