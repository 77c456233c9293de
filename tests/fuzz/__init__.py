"""The compiled extension (meridian/model/_item_check.c, _replicated.c) under AddressSanitizer
and UndefinedBehaviorSanitizer, fed structure-aware mutations of real records and items and
compared with the Python code (docs/architecture.md "How the compiled code is checked")."""
