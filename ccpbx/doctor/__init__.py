"""``ccpbx doctor``: checks of what ccpbx depends on, each with a fix in plain words."""
