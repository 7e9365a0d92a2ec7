"""The one build step pyproject.toml cannot say: the wheel carries the conformance suite's data.

The language-neutral suite is the repository's ``conformance/`` folder (cases, responses, fixtures, schema,
expectations, catalog, SPEC.md: data and documents, no Python); its Python runner is the package
``opi_bitrix24_conformance``. A wheel is installed without the repository, so building copies ``conformance/`` (but
``reference-runs/``, this repository's test evidence) into the built package as ``opi_bitrix24_conformance/suite/``,
where ``opi_bitrix24_conformance.suite_folder()`` finds it. An editable install copies nothing: the package finds the
repository's ``conformance/`` beside it, and the install stays a plain path entry that mypy follows (a package-dir
mapping would make it an import hook; a symlink made the sdist depend on filesystem order).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Tuple

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
#: the suite's folder in the repository and the sdist, and where a wheel carries it
SUITE = "conformance"
PACKAGED = ("opi_bitrix24_conformance", "suite")
#: folders of conformance/ a wheel leaves out: the measured oint runs are test evidence, not the suite
LEFT_OUT = frozenset({"reference-runs", "__pycache__"})


def suite_files(folder: Path) -> List[Path]:
    """The files of the suite's folder a wheel carries, relative to it."""
    found = (path.relative_to(folder) for path in folder.rglob("*") if path.is_file())
    return sorted(path for path in found if not LEFT_OUT.intersection(path.parts))


class BuildPyWithSuite(build_py):
    """``build_py`` that also copies the suite's data into the built package (not in editable mode)."""

    def _suite(self) -> List[Tuple[Path, Path]]:
        if getattr(self, "editable_mode", False):
            return []
        target = Path(self.build_lib).joinpath(*PACKAGED)
        return [(HERE / SUITE / name, target / name) for name in suite_files(HERE / SUITE)]

    def run(self) -> None:
        super().run()
        for source, target in self._suite():
            self.mkpath(str(target.parent))
            self.copy_file(str(source), str(target), preserve_mode=False)

    def get_outputs(self, include_bytecode: Any = True) -> List[str]:
        return [*super().get_outputs(include_bytecode), *(str(target) for _, target in self._suite())]


if __name__ == "__main__":  # as setuptools' build backend runs it; tests import suite_files without building
    setup(cmdclass={"build_py": BuildPyWithSuite})
