"""Build script: compiles cython_ext/*.pyx into the abmm package.

If the extension cannot be built (no compiler, Cython error, ``ABMM_NO_EXT=1``), the install
still succeeds and abmm runs on its pure-Python engine, logging a warning at import.
"""

import os
import sys
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent

# cython_ext/<name>.pyx -> abmm.engine.<name>
EXTENSIONS = {"_cbook": "abmm.engine._cbook", "_cqueue": "abmm.market._cqueue",
              "_crng": "abmm.agents._crng", "_cvol": "abmm.signals._cvol"}

# abmm's hot pure-Python modules (abmm/_compiled.py's MODULES), compiled as they are: each
# becomes an extension module beside its .py. Python semantics are kept (no boundscheck,
# wraparound or cdivision shortcuts; annotations are not types: a ``price: int`` argument still
# takes a float, as in Python), so a compiled module computes exactly what its source does.
PY_DIRECTIVES = {"language_level": 3, "embedsignature": True, "annotation_typing": False}


def compiled_modules():
    """MODULES of abmm/_compiled.py (read without importing abmm)."""
    import ast

    tree = ast.parse((HERE / "abmm" / "_compiled.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "MODULES"
                                                 for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise RuntimeError("abmm/_compiled.py has no MODULES tuple")


def record_hashes(cmd):
    """After a build: ``_compiled_hashes.json`` beside the built extensions (the source tree for
    an in-place build, the build directory for a wheel), the SHA-256 of each source whose
    extension this build made (a failed one is left out, so an older copy of it never runs:
    abmm._compiled runs a compiled module only while its source still has the recorded hash)."""
    import hashlib
    import json

    hashes = {}
    for m in compiled_modules():
        if m in cmd.built and Path(cmd.get_ext_fullpath(m)).exists():
            src = HERE / (m.replace(".", "/") + ".py")
            hashes[m] = hashlib.sha256(src.read_bytes()).hexdigest()
    out = Path(cmd.get_ext_fullpath("abmm._compiled_hashes")).parent / "_compiled_hashes.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(hashes, indent=1) + "\n")

DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "embedsignature": True,
}


class OptionalBuildExt(build_ext):
    """Let a failed compile fall through to the pure-Python engine instead of failing pip."""

    def run(self):
        self.built = set()  # the extensions this build makes (or finds up to date)
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any build failure means: use the fallback
            sys.stderr.write(f"WARNING: abmm's compiled engine was not built ({exc}); "
                             "abmm will use its pure-Python engine.\n")
        if self.extensions:
            record_hashes(self)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
            self.built.add(ext.name)
        except Exception as exc:  # noqa: BLE001
            sys.stderr.write(f"WARNING: could not build {ext.name} ({exc}); "
                             "abmm will use its pure-Python engine.\n")


def extensions():
    if os.environ.get("ABMM_NO_EXT") == "1":
        return []
    try:
        import numpy
        from Cython.Build import cythonize
        from setuptools import Extension
    except ImportError as exc:
        sys.stderr.write(f"WARNING: cannot build the compiled engine ({exc}).\n")
        return []
    exts = [
        Extension(
            module,
            [f"cython_ext/{name}.pyx"],
            include_dirs=[numpy.get_include(), "cython_ext"],
            extra_compile_args=["-O3"],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        )
        for name, module in EXTENSIONS.items()
    ]
    try:
        out = cythonize(exts, compiler_directives=DIRECTIVES, include_path=["cython_ext"],
                        quiet=True)
    except Exception as exc:  # noqa: BLE001
        sys.stderr.write(f"WARNING: Cython failed ({exc}); abmm will use its pure-Python engine.\n")
        return []
    mods = compiled_modules()
    py = [Extension(m, [m.replace(".", "/") + ".py"], extra_compile_args=["-O2"]) for m in mods]
    try:
        out += cythonize(py, compiler_directives=PY_DIRECTIVES, quiet=True)
    except Exception as exc:  # noqa: BLE001 - the sources run as they are
        sys.stderr.write(f"WARNING: Cython could not compile abmm's Python modules ({exc}); "
                         "they will run as Python source.\n")
    return out


# The shipped scenarios and policies live at the repository's top level (scenarios/, policies/)
# and install as package data of abmm._data.scenarios / abmm._data.policies, so a wheel carries
# them and abmm.resources finds them by name (``abmm run default``).
DATA_PACKAGES = {
    "abmm._data.scenarios": "scenarios",
    "abmm._data.scenarios.train": "scenarios/train",
    "abmm._data.policies": "policies",
}

setup(
    ext_modules=extensions(),
    cmdclass={"build_ext": OptionalBuildExt},
    packages=find_packages(include=["abmm", "abmm.*"]) + list(DATA_PACKAGES),
    package_dir=DATA_PACKAGES,
    package_data={
        "abmm": ["_compiled_hashes.json"],
        "abmm.env": ["*.yaml"],
        "abmm._data.scenarios": ["*.yaml", "*.md"],
        "abmm._data.scenarios.train": ["*.yaml", "*.md"],
        "abmm._data.policies": ["*.npz", "*.yaml", "*.md"],
    },
)
