"""Persistence: models, connection, migrations, blobs. Imports none of the other packages."""
