"""Stream triggers: user functions run on a table's change records, outside the node.

One runner process per region (``python -m triggers --config FILE --region NAME``) reads
each trigger's table stream from a durable checkpoint, filters and batches the records and
invokes the function in a worker subprocess, with Lambda's event-source-mapping semantics:
retries, bisect on error, partial batch failures, maximum record age and an on-failure
destination. See docs/triggers.md.
"""
