"""The compiled module (meridian/model/_item_check.c: the item check; _replicated.c: a
replicated record's scan and entries) is optional: without a C compiler and Python's headers
the build warns and meridian runs on the pure-Python fallback."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "meridian.model._item_check",
            sources=["meridian/model/_item_check.c", "meridian/model/_replicated.c"],
            depends=["meridian/model/_wire.h"],
            optional=True,
        )
    ]
)
