"""DealsManagement (РаботаСоСделками): CRM deals.

The request shapes are shared with leads (:mod:`.leads`), where OPI's twin functions live.
"""

from __future__ import annotations

from .. import _core
from .._shared import primary_action, template
from .._table import TOKEN, URL, section
from .._types import Flag, Id, Result, Structure
from .leads import FIELDS, LIST_PARAMS, crm_add, crm_list, crm_update

endpoint = section("DealsManagement", "РаботаСоСделками")

DEAL = ("IDСделки", "deal")


@endpoint("CreateDeal", "СоздатьСделку", api=["crm.deal.add"], params=[URL, FIELDS, TOKEN])
def create_deal(url: str, fields_structure: Structure, token: str = "") -> Result:
    """Create a CRM deal from a structure of deal fields.

    Calls: crm.deal.add

    Args:
        url: the webhook URL, or the portal address when a token is used.
        fields_structure: the deal fields (``TITLE``, ``STAGE_ID``, ``OPPORTUNITY``, ``CATEGORY_ID``, ...) as a
            dict, JSON text (single quotes accepted) or a path to a .json file; sent unchanged under
            ``fields``. :func:`get_deal_structure` asks the portal which fields exist.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return crm_add("crm.deal.add", url, fields_structure, token)


@endpoint("DeleteDeal", "УдалитьСделку", api=["crm.deal.delete"], params=[URL, DEAL, TOKEN])
def delete_deal(url: str, deal_id: Id, token: str = "") -> Result:
    """Delete a CRM deal by id.

    Calls: crm.deal.delete

    Args:
        url: the webhook URL, or the portal address when a token is used.
        deal_id: the deal id (sent as text under ``id``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("crm.deal.delete", url, deal_id, token, field="id", name="deal_id")


@endpoint("GetDeal", "ПолучитьСделку", api=["crm.deal.get"], params=[URL, DEAL, TOKEN])
def get_deal(url: str, deal_id: Id, token: str = "") -> Result:
    """Get a CRM deal by id.

    Calls: crm.deal.get

    Args:
        url: the webhook URL, or the portal address when a token is used.
        deal_id: the deal id (sent as text under ``id``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return primary_action("crm.deal.get", url, deal_id, token, field="id", name="deal_id")


@endpoint("GetDealsList", "ПолучитьСписокСделок", api=["crm.deal.list"], params=LIST_PARAMS)
def get_deals_list(url: str, filter: Structure = "", indent: Id = 0, token: str = "") -> Result:
    """List CRM deals, one page of up to 50, with an optional filter.

    Calls: crm.deal.list

    No automatic paging either: the ``next`` of an answer is the ``indent`` of the following page.

    Args:
        url: the webhook URL, or the portal address when a token is used.
        filter: the filter as a dict (keys may carry operators such as ``">=OPPORTUNITY"``), JSON text or a
            path to a .json file; see :func:`get_deals_filter_structure`.
        indent: the offset of the page (``start``); 0, the default, is not sent.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return crm_list("crm.deal.list", url, filter, indent, token)


@endpoint("UpdateDeal", "ИзменитьСделку", api=["crm.deal.update"], params=[URL, DEAL, FIELDS, TOKEN])
def update_deal(url: str, deal_id: Id, fields_structure: Structure, token: str = "") -> Result:
    """Change fields of an existing CRM deal.

    Calls: crm.deal.update

    Args:
        url: the webhook URL, or the portal address when a token is used.
        deal_id: the deal id (sent as text under ``id``, after ``fields``).
        fields_structure: the deal fields to change as a dict, JSON text or a path to a .json file.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return crm_update("crm.deal.update", url, deal_id, "deal_id", fields_structure, token)


@endpoint("GetDealStructure", "ПолучитьСтруктуруСделки", api=["crm.deal.fields"], params=[URL, TOKEN])
def get_deal_structure(url: str, token: str = "") -> Result:
    """Get the portal's description of the deal fields (types, titles, flags).

    Calls: crm.deal.fields (GET; ``auth`` in the query string in token mode)

    Args:
        url: the webhook URL, or the portal address when a token is used.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.get("crm.deal.fields", url, token)


_DEALS_FILTER = {
    "ID": "<Deal identifier>",
    "ASSIGNED_BY_ID": "<responsible person identifier>",
    "BEGINDATE": "<start date>",
    "CATEGORY_ID": "<direction identifier>",
    "CLOSEDATE": "<completion date>",
    "COMPANY_ID": "<company identifier>",
    "CONTACT_ID": "<contact identifier>",
    "CREATED_BY_ID": "<author identifier>",
    "CURRENCY_ID": "<currency identifier>",
    "DATE_CREATE": "<date of creation>",
    "DATE_MODIFY": "<date of change>",
    "IS_NEW": "<new deal flag (Y|N)>",
    "IS_RECURRING": "<is pattern (Y|N)>",
    "IS_RETURN_CUSTOMER": "<reused lead flag (Y|N)>",
    "LEAD_ID": "<linked lead identifier>",
    "MODIFY_BY_ID": "<author ID of the last change>",
    "MOVED_BY_ID": "<identifier of the author of moving the deal to the current stage>",
    "MOVED_TIME": "<date of moving the deal to the current stage>",
    "OPENED": "<feature is available for all (Y|N)>",
    "OPPORTUNITY": "<expected amount>",
    "PROBABILITY": "<probability>",
    "REQUISITE_ID": "<prop identifier>",
    "STAGE_ID": "<stage identifier>",
    "TITLE": "<deal name (can be searched using the template [% [%_])>",
    "TYPE_ID": "<deal type>",
}


@endpoint("GetDealsFilterStructure", "ПолучитьСтруктуруФильтраСделок", params=[("Пустая", "empty")])
def get_deals_filter_structure(clear: Flag = False) -> Result:
    """Return a template of the deal-list filter keys (for :func:`get_deals_list`); sends nothing.

    Calls: nothing

    Args:
        clear: true for empty values (OPI's flat clear); false for a description of each key as its value.
    """
    return template(_DEALS_FILTER, clear, name="clear")
