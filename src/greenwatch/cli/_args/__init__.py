"""The command line's arguments, one module per command group: they import nothing heavy, so
``greenwatch --help`` answers at once; each handler is imported when its command runs."""
