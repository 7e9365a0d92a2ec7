"""CatalogsManagement (РаботаСКаталогами): disk folders."""

from __future__ import annotations

from typing import Any, Dict, Mapping

from .. import _convert as cv
from .. import _core
from .._shared import primary_action
from .._table import TOKEN, URL, section
from .._types import Flag, Id, Result, Structure, Text
from .storages import NAME, name_data

endpoint = section("CatalogsManagement", "РаботаСКаталогами")

FOLDER = ("IDКаталога", "folderid")
DESTINATION = ("IDПриемника", "tagetid")


@endpoint("GetFolderInformation", "ПолучитьИнформациюОКаталоге", api=["disk.folder.get"], params=[URL, FOLDER, TOKEN])
def get_folder_information(url: str, folder_id: Id, token: str = "") -> Result:
    """Get information about a Disk folder.

    Calls: disk.folder.get

    Args:
        url: the webhook URL, or the portal address when a token is used.
        folder_id: the folder id (sent as text under ``id``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("disk.folder.get", url, folder_id, token, name="folder_id")


@endpoint("CreateSubfolder", "СоздатьПодкаталог", api=["disk.folder.addsubfolder"], params=[URL, FOLDER, NAME, TOKEN])
def create_subfolder(url: str, folder_id: Id, name: Text, token: str = "") -> Result:
    """Create a folder inside another folder.

    Calls: disk.folder.addsubfolder

    Args:
        url: the webhook URL, or the portal address when a token is used.
        folder_id: the parent folder id (``id``).
        name: the new folder's name, sent as ``data.NAME`` (as text; present even when empty, as in OPI).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "disk.folder.addsubfolder", url, token, id=cv.text(folder_id, "folder_id"), data=name_data(name, "name")
    )


@endpoint("MakeFolderCopy", "СкопироватьКаталог", api=["disk.folder.copyto"], params=[URL, FOLDER, DESTINATION, TOKEN])
def make_folder_copy(url: str, folder_id: Id, destination_id: Id, token: str = "") -> Result:
    """Copy a folder into another folder.

    Calls: disk.folder.copyto

    Args:
        url: the webhook URL, or the portal address when a token is used.
        folder_id: the folder to copy (``id``).
        destination_id: the target folder (``targetFolderId``); the CLI option is ``--tagetid`` (sic, OPI's).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "disk.folder.copyto",
        url,
        token,
        id=cv.text(folder_id, "folder_id"),
        targetFolderId=cv.text(destination_id, "destination_id"),
    )


@endpoint("MoveFolder", "ПереместитьКаталог", api=["disk.folder.moveto"], params=[URL, FOLDER, DESTINATION, TOKEN])
def move_folder(url: str, folder_id: Id, destination_id: Id, token: str = "") -> Result:
    """Move a folder into another folder.

    Calls: disk.folder.moveto

    Args:
        url: the webhook URL, or the portal address when a token is used.
        folder_id: the folder to move (``id``).
        destination_id: the target folder (``targetFolderId``); the CLI option is ``--tagetid`` (sic, OPI's).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "disk.folder.moveto",
        url,
        token,
        id=cv.text(folder_id, "folder_id"),
        targetFolderId=cv.text(destination_id, "destination_id"),
    )


@endpoint("DeleteFolder", "УдалитьКаталог", api=["disk.folder.deletetree"], params=[URL, FOLDER, TOKEN])
def delete_folder(url: str, folder_id: Id, token: str = "") -> Result:
    """Delete a folder with all its contents for good (not to the recycle bin).

    Calls: disk.folder.deletetree

    Args:
        url: the webhook URL, or the portal address when a token is used.
        folder_id: the folder id (sent as text under ``id``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("disk.folder.deletetree", url, folder_id, token, name="folder_id")


@endpoint(
    "GetFolderExternalLink",
    "ПолучитьВнешнююСсылкуКаталога",
    api=["disk.folder.getExternalLink"],
    params=[URL, FOLDER, TOKEN],
)
def get_folder_external_link(url: str, folder_id: Id, token: str = "") -> Result:
    """Get a public external link to a folder.

    Calls: disk.folder.getExternalLink

    Args:
        url: the webhook URL, or the portal address when a token is used.
        folder_id: the folder id (sent as text under ``id``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("disk.folder.getExternalLink", url, folder_id, token, name="folder_id")


@endpoint(
    "GetFolderItems",
    "ПолучитьДочерниеЭлементыКаталога",
    api=["disk.folder.getchildren"],
    params=[URL, FOLDER, ("Фильтр", "filter"), TOKEN],
)
def get_folder_items(url: str, folder_id: Id, filter: Structure = "", token: str = "") -> Result:
    """List the files and folders inside a folder, optionally filtered.

    Calls: disk.folder.getchildren

    Args:
        url: the webhook URL, or the portal address when a token is used.
        folder_id: the folder id (``id``).
        filter: the filter (``filter``) as a dict (keys may carry operators: ``">=CREATE_TIME"``), JSON
            text or a path to a .json file; see :func:`get_folder_filter_structure`. Empty: not sent.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "disk.folder.getchildren",
        url,
        token,
        id=cv.text(folder_id, "folder_id"),
        filter=cv.collection(filter, "filter"),
    )


@endpoint(
    "MarkFolderAsDeleted", "ПоместитьКаталогВКорзину", api=["disk.folder.markdeleted"], params=[URL, FOLDER, TOKEN]
)
def mark_folder_as_deleted(url: str, folder_id: Id, token: str = "") -> Result:
    """Move a folder to the recycle bin.

    Calls: disk.folder.markdeleted

    Args:
        url: the webhook URL, or the portal address when a token is used.
        folder_id: the folder id (sent as text under ``id``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("disk.folder.markdeleted", url, folder_id, token, name="folder_id")


@endpoint("RestoreFolder", "ВосстановитьКаталог", api=["disk.folder.restore"], params=[URL, FOLDER, TOKEN])
def restore_folder(url: str, folder_id: Id, token: str = "") -> Result:
    """Restore a folder from the recycle bin.

    Calls: disk.folder.restore

    Args:
        url: the webhook URL, or the portal address when a token is used.
        folder_id: the folder id (sent as text under ``id``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("disk.folder.restore", url, folder_id, token, name="folder_id")


@endpoint("RenameFolder", "ПереименоватьКаталог", api=["disk.folder.rename"], params=[URL, FOLDER, NAME, TOKEN])
def rename_folder(url: str, folder_id: Id, name: Text, token: str = "") -> Result:
    """Rename a folder.

    Calls: disk.folder.rename

    Args:
        url: the webhook URL, or the portal address when a token is used.
        folder_id: the folder id (``id``).
        name: the new folder name (``newName``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "disk.folder.rename", url, token, id=cv.text(folder_id, "folder_id"), newName=cv.text(name, "name")
    )


@endpoint(
    "GetFolderFilterStructure",
    "ПолучитьСтруктуруФильтраКаталога",
    api=["disk.folder.getfields"],
    params=[URL, ("Пустая", "empty"), TOKEN],
)
def get_folder_filter_structure(url: str, clear: Flag = False, token: str = "") -> Result:
    """Build a filter template for :func:`get_folder_items` from the portal's folder field list.

    Calls: disk.folder.getfields

    Unlike the other calls this does not return the portal's answer: it keeps the fields whose
    description has ``USE_IN_FILTER`` true, in the portal's order, each mapped to its ``TYPE`` (or to
    ``""`` with ``clear``). An answer whose ``result`` is an empty list gives an empty structure, as in
    OPI; an answer without a ``result`` object (an API error) is returned unchanged, where OPI fails.

    Args:
        url: the webhook URL, or the portal address when a token is used.
        clear: ``True`` for empty values instead of the field types.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    empty = cv.boolean(clear, "clear")
    answer = _core.post("disk.folder.getfields", url, token)
    fields = answer.get("result")
    if isinstance(fields, list) and not fields:
        return {}  # PHP's empty array: OPI walks no fields and returns an empty structure
    if not isinstance(fields, Mapping):
        return answer
    structure: Dict[str, Any] = {}
    for field, description in fields.items():
        if isinstance(description, Mapping) and description.get("USE_IN_FILTER") is True:
            structure[field] = "" if empty else description.get("TYPE")
    return structure
