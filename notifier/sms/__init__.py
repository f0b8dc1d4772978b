"""Outbound SMS and MMS through Twilio: the sender, text arithmetic, opt-outs, delivery status, media."""
