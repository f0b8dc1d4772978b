"""The TOML configuration file (``HELPLINE_CONFIG_FILE``) and its sections; ``store/config.py`` holds the environment settings."""
