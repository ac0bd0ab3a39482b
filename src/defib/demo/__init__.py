"""`defib demo` and the local catcher it shows notifications in."""
