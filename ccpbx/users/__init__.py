"""Users of the web console: accounts, passwords, sign-in with lockout, browser sessions."""
