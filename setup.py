"""Build the optional compiled logs decoder (receiver._logswire). Everything else about the
package is in pyproject.toml. ``optional=True``: when the C compiler is missing or the build
fails, the install still succeeds and the receiver uses the pure-Python decoder."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "receiver._logswire",
            sources=["receiver/_logswire_c/scan.c", "receiver/_logswire_c/module.c"],
            depends=["receiver/_logswire_c/scan.h"],
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra"],
            optional=True,
        )
    ]
)
