"""Chaos suite: Meridian regions in network namespaces under partitions, kills, pauses, packet
faults and clock skew, with a history checker for the invariants of DESIGN.md.

Run `python -m chaos.run --all` (root, iproute2, iptables); see chaos/README.md.
"""
