"""The rows an inbound message makes on its way to a ticket: the inbound row (intake, import, queue), thread keys and participants, the message, its customer, the audit events."""
