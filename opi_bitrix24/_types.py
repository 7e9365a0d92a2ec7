"""Argument and result types used in the public signatures.

OPI accepts text for every parameter (its CLI passes everything as text), so each alias admits ``str``
next to the natural Python type.
"""

from __future__ import annotations

import datetime
import os
from typing import Any, Dict, Mapping, Sequence, Union

__all__ = ["FileData", "Flag", "Id", "IdList", "Moment", "Result", "Structure", "StructureList", "Text"]

#: The parsed JSON object the portal answered (OPI: ``Map Of KeyAndValue``).
Result = Dict[str, Any]
#: Free text; numbers are sent as plain decimal text.
Text = Union[str, int, float]
#: An object id (OPI: ``Number, String``).
Id = Union[int, str]
#: One id or several: a list, or JSON array text such as ``"[1,10]"``.
IdList = Union[Id, Sequence[Id]]
#: A structure: a dict or list, JSON text (single quotes accepted) or a path to a .json file.
Structure = Union[Mapping[str, Any], Sequence[Any], str, "os.PathLike[str]"]
#: A list of structures (or JSON array text).
StructureList = Union[Sequence[Mapping[str, Any]], Mapping[str, Any], str]
#: A boolean; ``"true"``/``"false"`` text is accepted as the CLI passes it.
Flag = Union[bool, str]
#: A moment in time: ``datetime``/``date`` or ISO 8601 text.
Moment = Union[datetime.datetime, datetime.date, str]
#: File content: bytes, a path, an ``http(s)://`` URL or base64 text.
FileData = Union[bytes, str, "os.PathLike[str]"]
