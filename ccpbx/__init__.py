"""ccpbx: a contact-center control plane for Asterisk."""

__version__ = "0.1.0"
