"""Who may do what: agents' roles and the API's keys."""
