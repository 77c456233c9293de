"""The compiled item check (meridian/model/_item_check.c) is optional: without a C compiler
and Python's headers the build warns and meridian runs on the pure-Python fallback."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "meridian.model._item_check",
            sources=["meridian/model/_item_check.c"],
            optional=True,
        )
    ]
)
