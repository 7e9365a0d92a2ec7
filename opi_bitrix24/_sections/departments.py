"""DepartmentsManagement (УправлениеПодразделениями): departments."""

from __future__ import annotations

from .. import _convert as cv
from .. import _core
from .._table import TOKEN, URL, section
from .._types import Id, Result, Text

endpoint = section("DepartmentsManagement", "УправлениеПодразделениями")

DEPARTMENT = ("IDПодразделения", "depid")
NAME = ("Наименование", "title")
PARENT = ("IDРодителя", "parentid")
HEAD = ("IDРуководителя", "headid")


@endpoint("CreateDepartment", "СоздатьПодразделение", api=["department.add"], params=[URL, NAME, PARENT, HEAD, TOKEN])
def create_department(url: str, name: Text, parent_id: Id = "", head_id: Id = "", token: str = "") -> Result:
    """Create a company department.

    Calls: department.add

    Args:
        url: the webhook URL, or the portal address when a token is used.
        name: the department name (``NAME``).
        parent_id: the parent department (``PARENT``, as text).
        head_id: the user who heads the department (``UF_HEAD``, as text).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "department.add",
        url,
        token,
        NAME=cv.text(name, "name"),
        PARENT=cv.text(parent_id, "parent_id"),
        UF_HEAD=cv.text(head_id, "head_id"),
    )


@endpoint(
    "UpdateDepartment",
    "ИзменитьПодразделение",
    api=["department.update"],
    params=[URL, DEPARTMENT, NAME, PARENT, HEAD, TOKEN],
)
def update_department(
    url: str, department_id: Id, name: Text = "", parent_id: Id = "", head_id: Id = "", token: str = ""
) -> Result:
    """Change the name, the parent or the head of a department; empty values are left unchanged.

    Calls: department.update

    Args:
        url: the webhook URL, or the portal address when a token is used.
        department_id: the department to change (``ID``, as text).
        name: a new name (``NAME``).
        parent_id: a new parent department (``PARENT``, as text).
        head_id: a new head (``UF_HEAD``, as text).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "department.update",
        url,
        token,
        ID=cv.text(department_id, "department_id"),
        NAME=cv.text(name, "name"),
        PARENT=cv.text(parent_id, "parent_id"),
        UF_HEAD=cv.text(head_id, "head_id"),
    )


@endpoint(
    "GetDepartments",
    "ПолучитьПодразделения",
    api=["department.get"],
    params=[URL, DEPARTMENT, NAME, PARENT, HEAD, TOKEN],
)
def get_departments(
    url: str, department_id: Id = "", name: Text = "", parent_id: Id = "", head_id: Id = "", token: str = ""
) -> Result:
    """List departments, optionally filtered by id, name, parent or head.

    Calls: department.get

    The filters are plain top-level keys; empty ones are left out (none lists every department).

    Args:
        url: the webhook URL, or the portal address when a token is used.
        department_id: only this department (``ID``, as text).
        name: only departments with this name (``NAME``).
        parent_id: only children of this department (``PARENT``, as text).
        head_id: only departments headed by this user (``UF_HEAD``, as text).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "department.get",
        url,
        token,
        ID=cv.text(department_id, "department_id"),
        NAME=cv.text(name, "name"),
        PARENT=cv.text(parent_id, "parent_id"),
        UF_HEAD=cv.text(head_id, "head_id"),
    )


@endpoint("DeleteDepartment", "УдалитьПодразделение", api=["department.delete"], params=[URL, DEPARTMENT, TOKEN])
def delete_department(url: str, department_id: Id, token: str = "") -> Result:
    """Delete a department by id.

    Calls: department.delete

    Args:
        url: the webhook URL, or the portal address when a token is used.
        department_id: the department to delete (``ID``, as text).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("department.delete", url, token, ID=cv.text(department_id, "department_id"))
