"""Asterisk configuration: rendering the templates admins edit in ``asterisk-conf/``."""
