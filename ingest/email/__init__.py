"""Email normaliser: raw RFC 5322 bytes to an ``Envelope`` (ARCHITECTURE.md, "The envelope").

Modules, one idea each: ``mime`` (parse, split body from attachments),
``headers`` (header index, RFC 2047), ``charsets`` (any charset to text),
``body`` (transfer and charset decoding of parts), ``addresses``,
``quotes`` (new part only), ``html`` (sanitise, html to text),
``attachments`` (incl. winmail.dat and attached messages), ``autoreply``,
``auth`` (Authentication-Results), ``threadhints``; ``normalise`` orders them.
"""

from helpline.ingest.email.normalise import NotAnEmail, inspect_bytes, normalise_email

__all__ = ["NotAnEmail", "inspect_bytes", "normalise_email"]
