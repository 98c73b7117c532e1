"""Only for the compiled scanner; everything else is in pyproject.toml.

The extension is optional: without a C compiler (or Python headers) the build
carries on and logs.inspect uses its polars path, with the same results.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("rbk_logs._scan", ["rbk_logs/_scan.c"], optional=True,
                             extra_compile_args=["-O3", "-std=c11"])])
