"""Bytes on disk: content-addressed blobs, durable file writes, private modes, signed download links, and the malware scan that stands before a file leaves."""
