"""Call-control primitives over AMI that the contact-center services build on."""
