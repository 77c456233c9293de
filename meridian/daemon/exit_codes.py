"""Exit codes of every Meridian process and command, defined once.

0 ok, 1 runtime failure (or a crash), 2 usage error or bad input, 3 configuration or startup
failure (systemd units use RestartPreventExitStatus=3), 130 interrupted by Ctrl-C (`meridian
run` exits 128 + the number of the signal that stopped it, as shells report it).
"""

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_INTERRUPTED = 130
