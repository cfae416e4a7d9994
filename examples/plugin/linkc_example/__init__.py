"""An example linkc plugin (see register.py for the entries, modules.py for their torch code)."""
