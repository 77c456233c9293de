"""Stream trigger examples; run them with ``meridian run examples/group.yaml``."""
