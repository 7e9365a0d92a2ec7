"""MkDocs hooks: publish the conformance case files with the site (the reference links to them), and give
each page the language it is written in on its ``<html>`` tag (``lang: ru`` in a page's front matter, or a
Russian page's name: ``*.ru.md``, ``migration/ru.md``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "conformance" / "cases"


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for path in sorted(CASES.rglob("*.yaml")):
        uri = path.relative_to(ROOT).as_posix()
        files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files


def on_post_page(output: str, page: Any, config: Any) -> str:
    source = page.file.src_uri
    russian = source.endswith(".ru.md") or source.startswith("migration/ru")
    language = page.meta.get("lang") or ("ru" if russian else None)
    if not language:
        return output
    default = config["theme"]["locale"].language
    return output.replace(f'<html lang="{default}"', f'<html lang="{language}"', 1)
