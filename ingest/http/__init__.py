"""The HTTP applications: the public listener (API, webhooks, pages) and the admin listener."""
