"""LeadsManagement (РаботаСЛидами): CRM leads.

Leads and deals (:mod:`.deals`) are twins in OPI: the same requests against ``crm.lead.*`` and
``crm.deal.*``. The shared request shapes live here, once, and both modules call them.
"""

from __future__ import annotations

from typing import Any

from .. import _convert as cv
from .. import _core
from .._shared import primary_action, template
from .._table import TOKEN, URL, section
from .._types import Flag, Id, Result, Structure

endpoint = section("LeadsManagement", "РаботаСЛидами")

LEAD = ("IDЛида", "lead")
FIELDS = ("СтруктураПолей", "fields")
#: GetLeadsList / GetDealsList: filter and offset between the URL and the token.
LIST_PARAMS = [URL, ("Фильтр", "filter"), ("Отступ", "offset"), TOKEN]


# --- the CRM request shapes shared with deals -------------------------------------------------------


def crm_add(api_method: str, url: Any, fields_structure: Any, token: Any) -> Result:
    """``crm.<entity>.add``: the fields structure under ``fields`` (OPI type Collection)."""
    return _core.post(api_method, url, token, fields=cv.collection(fields_structure, "fields_structure"))


def crm_update(api_method: str, url: Any, item_id: Any, id_name: str, fields_structure: Any, token: Any) -> Result:
    """``crm.<entity>.update``: ``fields`` (Collection) first, then the id as text under ``id``."""
    return _core.post(
        api_method,
        url,
        token,
        fields=cv.collection(fields_structure, "fields_structure"),
        id=cv.text(item_id, id_name),
    )


def crm_list(api_method: str, url: Any, filter: Any, indent: Any, token: Any) -> Result:
    """``crm.<entity>.list``: one page; ``filter`` (Collection), then the offset as text under ``start``.

    The default offset 0 is not sent (OPI's AddField skips it), so the first page has no ``start``.
    """
    return _core.post(
        api_method,
        url,
        token,
        filter=cv.collection(filter, "filter"),
        start=cv.text(indent, "indent"),
    )


# --- leads ------------------------------------------------------------------------------------------


@endpoint("CreateLead", "СоздатьЛид", api=["crm.lead.add"], params=[URL, FIELDS, TOKEN])
def create_lead(url: str, fields_structure: Structure, token: str = "") -> Result:
    """Create a CRM lead from a structure of lead fields.

    Calls: crm.lead.add

    Args:
        url: the webhook URL, or the portal address when a token is used.
        fields_structure: the lead fields (``TITLE``, ``NAME``, ``EMAIL``, ``PHONE``, ...) as a dict, JSON
            text (single quotes accepted) or a path to a .json file; sent unchanged under ``fields``.
            :func:`get_lead_structure` asks the portal which fields exist.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return crm_add("crm.lead.add", url, fields_structure, token)


@endpoint("DeleteLead", "УдалитьЛид", api=["crm.lead.delete"], params=[URL, LEAD, TOKEN])
def delete_lead(url: str, lead_id: Id, token: str = "") -> Result:
    """Delete a CRM lead by id.

    Calls: crm.lead.delete

    Args:
        url: the webhook URL, or the portal address when a token is used.
        lead_id: the lead id (sent as text under ``id``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("crm.lead.delete", url, lead_id, token, field="id", name="lead_id")


@endpoint("GetLead", "ПолучитьЛид", api=["crm.lead.get"], params=[URL, LEAD, TOKEN])
def get_lead(url: str, lead_id: Id, token: str = "") -> Result:
    """Get a CRM lead by id.

    Calls: crm.lead.get

    Args:
        url: the webhook URL, or the portal address when a token is used.
        lead_id: the lead id (sent as text under ``id``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("crm.lead.get", url, lead_id, token, field="id", name="lead_id")


@endpoint("GetLeadsList", "ПолучитьСписокЛидов", api=["crm.lead.list"], params=LIST_PARAMS)
def get_leads_list(url: str, filter: Structure = "", indent: Id = 0, token: str = "") -> Result:
    """List CRM leads, one page of up to 50, with an optional filter.

    Calls: crm.lead.list

    There is no automatic paging: pass the ``indent`` of the next page (``next`` in the answer).

    Args:
        url: the webhook URL, or the portal address when a token is used.
        filter: the filter as a dict (keys may carry operators such as ``">DATE_CREATE"``), JSON text or a
            path to a .json file; see :func:`get_lead_filter_structure`.
        indent: the offset of the page (``start``); 0, the default, is not sent.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return crm_list("crm.lead.list", url, filter, indent, token)


@endpoint("UpdateLead", "ИзменитьЛид", api=["crm.lead.update"], params=[URL, LEAD, FIELDS, TOKEN])
def update_lead(url: str, lead_id: Id, fields_structure: Structure, token: str = "") -> Result:
    """Change fields of an existing CRM lead.

    Calls: crm.lead.update

    Args:
        url: the webhook URL, or the portal address when a token is used.
        lead_id: the lead id (sent as text under ``id``, after ``fields``).
        fields_structure: the fields to change as a dict, JSON text or a path to a .json file.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return crm_update("crm.lead.update", url, lead_id, "lead_id", fields_structure, token)


@endpoint("GetLeadStructure", "ПолучитьСтруктуруЛида", api=["crm.lead.fields"], params=[URL, TOKEN])
def get_lead_structure(url: str, token: str = "") -> Result:
    """Get the portal's description of the lead fields (types, titles, flags).

    Calls: crm.lead.fields (GET; ``auth`` in the query string in token mode)

    Args:
        url: the webhook URL, or the portal address when a token is used.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.get("crm.lead.fields", url, token)


_LEAD_FILTER = {
    "ID": "<lead identifier>",
    "ASSIGNED_BY_ID": "<responsible person identifier>",
    "COMPANY_ID": "<company identifier>",
    "COMPANY_TITLE": "<company name>",
    "CONTACT_ID": "<contact identifier>",
    "CREATED_BY_ID": "<author identifier>",
    "CURRENCY_ID": "<currency identifier>",
    "DATE_CLOSED": "<closing date>",
    "DATE_CREATE": "<date of creation>",
    "DATE_MODIFY": "<date of change>",
    "EMAIL": "<email address>",
    "HAS_EMAIL": "<Email is filled (Y|N)>",
    "HAS_PHONE": "<phone field is filled (Y|N)>",
    "IS_RETURN_CUSTOMER": "<reused lead flag (Y|N)>",
    "MODIFY_BY_ID": "<author ID of the last change>",
    "MOVED_BY_ID": "<identifier of the author of moving the lead to the current stage>",
    "MOVED_TIME": "<date of moving the lead to the current stage>",
    "OPENED": "<feature is available for all (Y|N)>",
    "OPPORTUNITY": "<expected amount>",
    "STATUS_ID": "<status identifier>",
    "TITLE": "<lead name (can be searched using the template [% [%_])>",
}


@endpoint("GetLeadFilterStructure", "ПолучитьСтруктуруФильтраЛидов", params=[("Пустая", "empty")])
def get_lead_filter_structure(clear: Flag = False) -> Result:
    """Return a template of the lead-list filter keys (for :func:`get_leads_list`); sends nothing.

    Calls: nothing

    Args:
        clear: true for empty values (OPI's flat clear); false for a description of each key as its value.
    """
    return template(_LEAD_FILTER, clear, name="clear")
