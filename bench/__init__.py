"""Meridian's benchmark suite: `python -m bench.run [--quick]` (or `make bench`).

Every figure is measured in one run next to the raw limits of the same machine (RocksDB
WriteBatch, gRPC streaming and unary, protobuf), so results are read as ratios that hold
across noisy, shared machines. See docs/performance.md.
"""
