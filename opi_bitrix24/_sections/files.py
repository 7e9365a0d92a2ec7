"""FileManagement (РаботаСФайлами): disk files."""

from __future__ import annotations

from .. import _convert as cv
from .. import _core
from .._shared import primary_action
from .._table import TOKEN, URL, section
from .._types import FileData, Id, Result, StructureList, Text
from .catalogs import FOLDER
from .storages import NAME, STORAGE, name_data, name_text

endpoint = section("FileManagement", "РаботаСФайлами")

FILE = ("IDФайла", "fileid")
CONTENT = ("Файл", "file")


@endpoint(
    "UploadFileToStorage",
    "ЗагрузитьФайлВХранилище",
    api=["disk.storage.uploadfile"],
    params=[URL, NAME, CONTENT, STORAGE, ("Доступы", "rights"), TOKEN],
)
def upload_file_to_storage(
    url: str, name: Text, file: FileData, storage_id: Id, rights: StructureList = "", token: str = ""
) -> Result:
    """Upload a file into the root of a storage in one request (the file base64-encoded in the JSON body).

    Calls: disk.storage.uploadfile

    Args:
        url: the webhook URL, or the portal address when a token is used.
        name: the file name with its extension (``data.NAME`` and the first item of ``fileContent``).
        file: the content: bytes, a path to a file, an ``http(s)://`` URL (downloaded first) or base64
            text; sent as ``fileContent`` = ``[name, base64]``.
        storage_id: the storage id (``id``, as text; ``0`` is sent as ``"0"``).
        rights: access rights (``rights``), e.g. ``[{"TASK_ID": 42, "ACCESS_CODE": "U35"}]``: a list,
            one dict, or JSON text; empty: not sent.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    title = name_text(name, "name")
    return _core.post(
        "disk.storage.uploadfile",
        url,
        token,
        data=name_data(title, "name"),
        rights=cv.array(rights, "rights"),
        id=cv.line(storage_id, "storage_id"),
        fileContent=[title, cv.base64_source(file, "file")],
    )


@endpoint(
    "UploadFileToFolder",
    "ЗагрузитьФайлВКаталог",
    api=["disk.folder.uploadFile"],
    params=[URL, NAME, CONTENT, FOLDER, TOKEN],
)
def upload_file_to_folder(url: str, name: Text, file: FileData, folder_id: Id, token: str = "") -> Result:
    """Upload a file into a folder in two steps: ask the portal for an upload URL, then send the file there.

    Calls: disk.folder.uploadFile

    Step 1 is a GET of ``disk.folder.uploadFile`` with ``id``; its answer names a form field
    (``result.field``) and an upload URL (``result.uploadUrl``). Step 2 posts the file to that URL as
    ``multipart/form-data`` (one file part, no auth added: the URL carries its own) and returns that
    answer. When the first answer has no field or URL (an API error, say), it is returned as is.

    Args:
        url: the webhook URL, or the portal address when a token is used.
        name: the file name with its extension (the multipart file name).
        file: the content: bytes, a path to a file, an ``http(s)://`` URL (downloaded first) or base64
            text; checked before anything is sent (a file is then read in chunks while it is sent).
        folder_id: the folder id (``id``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    title = name_text(name, "name")
    content = cv.file_data(file, "file")
    answer = _core.get("disk.folder.uploadFile", url, token, id=cv.text(folder_id, "folder_id"))
    target = _core.upload_target(answer)  # the same rule as the async flow's (_flow.upload_to_folder)
    if target is None:
        return answer
    field, upload_url = target
    return _core.upload(upload_url, field, str(title), content)


@endpoint("GetFileInformation", "ПолучитьИнформациюОФайле", api=["disk.file.get"], params=[URL, FILE, TOKEN])
def get_file_information(url: str, file_id: Id, token: str = "") -> Result:
    """Get information about a Disk file.

    Calls: disk.file.get

    Args:
        url: the webhook URL, or the portal address when a token is used.
        file_id: the file id (sent as text under ``id``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("disk.file.get", url, file_id, token, name="file_id")


@endpoint("DeleteFile", "УдалитьФайл", api=["disk.file.delete"], params=[URL, FILE, TOKEN])
def delete_file(url: str, file_id: Id, token: str = "") -> Result:
    """Delete a Disk file for good (not to the recycle bin).

    Calls: disk.file.delete

    Args:
        url: the webhook URL, or the portal address when a token is used.
        file_id: the file id (sent as text under ``id``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("disk.file.delete", url, file_id, token, name="file_id")


@endpoint(
    "GetFileExternalLink", "ПолучитьВнешнююСсылкуФайла", api=["disk.file.getExternalLink"], params=[URL, FILE, TOKEN]
)
def get_file_external_link(url: str, file_id: Id, token: str = "") -> Result:
    """Get a public external link to a file.

    Calls: disk.file.getExternalLink

    The cloud Bitrix24 OPI tests against answers ``ERROR_METHOD_NOT_FOUND`` for this method (since 09/2024);
    that answer is returned as the result.

    Args:
        url: the webhook URL, or the portal address when a token is used.
        file_id: the file id (sent as text under ``id``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("disk.file.getExternalLink", url, file_id, token, name="file_id")


@endpoint("MarkFileAsDeleted", "ПоместитьФайлВКорзину", api=["disk.file.markdeleted"], params=[URL, FILE, TOKEN])
def mark_file_as_deleted(url: str, file_id: Id, token: str = "") -> Result:
    """Move a file to the recycle bin.

    Calls: disk.file.markdeleted

    Args:
        url: the webhook URL, or the portal address when a token is used.
        file_id: the file id (sent as text under ``id``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("disk.file.markdeleted", url, file_id, token, name="file_id")


@endpoint("RestoreFile", "ВосстановитьФайл", api=["disk.file.restore"], params=[URL, FILE, TOKEN])
def restore_file(url: str, file_id: Id, token: str = "") -> Result:
    """Restore a file from the recycle bin.

    Calls: disk.file.restore

    Args:
        url: the webhook URL, or the portal address when a token is used.
        file_id: the file id (sent as text under ``id``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("disk.file.restore", url, file_id, token, name="file_id")


@endpoint("MakeFileCopy", "СкопироватьФайл", api=["disk.file.copyto"], params=[URL, FILE, FOLDER, TOKEN])
def make_file_copy(url: str, file_id: Id, folder_id: Id, token: str = "") -> Result:
    """Copy a file into a folder.

    Calls: disk.file.copyto

    Args:
        url: the webhook URL, or the portal address when a token is used.
        file_id: the file to copy (``id``).
        folder_id: the target folder (``targetFolderId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "disk.file.copyto",
        url,
        token,
        id=cv.text(file_id, "file_id"),
        targetFolderId=cv.text(folder_id, "folder_id"),
    )


@endpoint("MoveFileToFolder", "ПереместитьФайлВКаталог", api=["disk.file.moveto"], params=[URL, FILE, FOLDER, TOKEN])
def move_file_to_folder(url: str, file_id: Id, folder_id: Id, token: str = "") -> Result:
    """Move a file into another folder.

    Calls: disk.file.moveto

    Args:
        url: the webhook URL, or the portal address when a token is used.
        file_id: the file to move (``id``).
        folder_id: the target folder (``targetFolderId``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "disk.file.moveto",
        url,
        token,
        id=cv.text(file_id, "file_id"),
        targetFolderId=cv.text(folder_id, "folder_id"),
    )


@endpoint("RenameFile", "ПереименоватьФайл", api=["disk.file.rename"], params=[URL, FILE, NAME, TOKEN])
def rename_file(url: str, file_id: Id, name: Text, token: str = "") -> Result:
    """Rename a file.

    Calls: disk.file.rename

    Args:
        url: the webhook URL, or the portal address when a token is used.
        file_id: the file id (``id``).
        name: the new file name with its extension (``newName``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("disk.file.rename", url, token, id=cv.text(file_id, "file_id"), newName=cv.text(name, "name"))
