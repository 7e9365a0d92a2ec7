"""StoragesManagement (РаботаСХранилищами): disk storages."""

from __future__ import annotations

from typing import Any, Dict

from .. import _convert as cv
from .. import _core
from .._shared import primary_action
from .._table import TOKEN, URL, section
from .._types import Id, Result, Text

endpoint = section("StoragesManagement", "РаботаСХранилищами")

STORAGE = ("IDХранилища", "storageid")
NAME = ("Наименование", "title")


def name_text(value: Any, name: str) -> Any:
    """OPI ``GetLine`` on a disk object name: numbers as plain text (``0`` too), nothing as ``""``.

    Text is sent unchanged, a whitespace-only name included: OPI puts the name into ``data`` directly,
    not through its skip-empty rule.
    """
    if isinstance(value, str):
        return value
    converted = cv.line(value, name)
    return "" if converted is cv.SKIP else converted


def name_data(value: Any, name: str) -> Dict[str, Any]:
    """The disk ``data`` object: ``{"NAME": name}``, built directly, so NAME is sent even when empty."""
    return {"NAME": name_text(value, name)}


@endpoint("GetStoragesList", "ПолучитьСписокХранилищ", api=["disk.storage.getlist"], params=[URL, TOKEN])
def get_storages_list(url: str, token: str = "") -> Result:
    """List the Disk storages available to the caller.

    Calls: disk.storage.getlist

    Args:
        url: the webhook URL, or the portal address when a token is used.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("disk.storage.getlist", url, token)


@endpoint("GetAppStorage", "ПолучитьХранилищеПриложения", api=["disk.storage.getforapp"], params=[URL, TOKEN])
def get_app_storage(url: str, token: str = "") -> Result:
    """Get the Disk storage reserved for the application's data (app mode).

    Calls: disk.storage.getforapp

    Args:
        url: the portal address (with a token) or a webhook URL.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("disk.storage.getforapp", url, token)


@endpoint("GetStorage", "ПолучитьХранилище", api=["disk.storage.get"], params=[URL, STORAGE, TOKEN])
def get_storage(url: str, storage_id: Id, token: str = "") -> Result:
    """Get information about one Disk storage.

    Calls: disk.storage.get

    Args:
        url: the webhook URL, or the portal address when a token is used.
        storage_id: the storage id (sent as text under ``id``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("disk.storage.get", url, storage_id, token, name="storage_id")


@endpoint("RenameStorage", "ПереименоватьХранилище", api=["disk.storage.rename"], params=[URL, STORAGE, NAME, TOKEN])
def rename_storage(url: str, storage_id: Id, name: Text, token: str = "") -> Result:
    """Rename a storage (the application's storage only, see :func:`get_app_storage`).

    Calls: disk.storage.rename

    Args:
        url: the webhook URL, or the portal address when a token is used.
        storage_id: the storage id (``id``).
        name: the new storage name (``newName``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "disk.storage.rename", url, token, id=cv.text(storage_id, "storage_id"), newName=cv.text(name, "name")
    )


@endpoint(
    "GetStorageObjects", "ПолучитьСодержимоеХранилища", api=["disk.storage.getchildren"], params=[URL, STORAGE, TOKEN]
)
def get_storage_objects(url: str, storage_id: Id, token: str = "") -> Result:
    """List the files and folders at the root of a storage.

    Calls: disk.storage.getchildren

    Args:
        url: the webhook URL, or the portal address when a token is used.
        storage_id: the storage id (sent as text under ``id``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("disk.storage.getchildren", url, storage_id, token, name="storage_id")


@endpoint(
    "CreateStorageFolder",
    "СоздатьКаталогВХранилище",
    api=["disk.storage.addfolder"],
    params=[URL, STORAGE, NAME, TOKEN],
)
def create_storage_folder(url: str, storage_id: Id, name: Text, token: str = "") -> Result:
    """Create a folder at the root of a storage.

    Calls: disk.storage.addfolder

    Args:
        url: the webhook URL, or the portal address when a token is used.
        storage_id: the storage id (``id``).
        name: the folder name, sent as ``data.NAME`` (as text; present even when empty, as in OPI).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "disk.storage.addfolder", url, token, id=cv.text(storage_id, "storage_id"), data=name_data(name, "name")
    )
