"""Packaging for recsearch.

The repository keeps the layout of a TFX project (``pipeline/``, ``components/``,
``modules/``, ``kubeflow/`` at the top level, plus ``apps/``) and installs each of those
directories as the subpackage of ``recsearch`` with the same name: the folder ``modules/``
is ``recsearch.modules``, ``apps/cli.py`` is ``recsearch.apps.cli``, and ``recsearch/``
itself holds the floor every layer stands on (docs/architecture.md draws the layers).
Every module path handed to TFX (``recsearch.modules.trainer.run_fn`` and so on)
therefore resolves from the installed package, whatever the working directory of the
process that loads it.
"""

from setuptools import setup

_SUBPACKAGE_DIRS = ("pipeline", "components", "modules", "kubeflow", "apps")
# Top-level packages: `system` carries KFP's visualisation type names
# (kubeflow/system/__init__.py says why).
_TOP_LEVEL = {"system": "kubeflow/system"}


def _packages():
    import os

    packages = {"recsearch": "recsearch", **_TOP_LEVEL}
    for top in ("recsearch", *_SUBPACKAGE_DIRS):
        for root, dirs, files in os.walk(top):
            dirs[:] = [
                d
                for d in dirs
                if d != "__pycache__" and os.path.join(root, d) not in _TOP_LEVEL.values()
            ]
            if "__init__.py" not in files:
                continue
            rel = root.replace(os.sep, ".")
            name = rel if top == "recsearch" else f"recsearch.{rel}"
            packages[name] = root
    return packages


_PACKAGES = _packages()

setup(
    name="recsearch",
    version="0.1.0",
    description="An orchestrated TFX pipeline for deep-learning recommendation and search.",
    python_requires=">=3.10,<3.11",
    packages=sorted(_PACKAGES),
    package_dir=_PACKAGES,
    package_data={"recsearch": ["configs/*.yaml"]},
    include_package_data=True,
    install_requires=[
        "tfx[kfp]==1.16.0",
        "apache-beam[gcp]==2.60.0",
        "tensorflow==2.16.2",
        "tf-keras==2.16.0",
        "tensorflow-recommenders==0.7.7",
        "scann==1.3.2",
        "kfp==2.5.0",
        "PyYAML>=6",
        "pandas>=1.5,<2",
        "pillow>=10",
        "matplotlib>=3.8",
    ],
    extras_require={
        "bench": ["implicit", "scikit-surprise"],
    },
    entry_points={"console_scripts": ["recsearch=recsearch.apps.cli:run"]},
)
