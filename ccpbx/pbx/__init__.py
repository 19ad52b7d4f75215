"""Phones, carrier trunks and inbound numbers as data, and the commands that manage them."""
