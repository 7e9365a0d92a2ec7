"""FeedPostsManagement (РаботаСЖивойЛентой): feed posts."""

from __future__ import annotations

from typing import Any

from .. import _convert as cv
from .. import _core
from .._shared import file_pairs
from .._table import TOKEN, URL, section
from .._types import Flag, Id, IdList, Result, Structure, Text

endpoint = section("FeedPostsManagement", "РаботаСЖивойЛентой")

POST = ("IDНовости", "postid")
TEXT = ("Текст", "text")
VISIBILITY = ("Видимость", "vision")
FILES = ("Файлы", "files")
TITLE = ("Заголовок", "title")


def _recipients(value: Any, name: str) -> Any:
    """``DEST`` of AddPostRecipients: one recipient code as text (OPI's ``String``), several as a list.

    Deliberate deviation: OPI converts the value with ``String``, so a list (or JSON array text such as
    ``['U1','DR2']``) reaches the portal as one meaningless string although OPI documents "array or 1
    recipient". Here a list, a tuple or JSON array text is sent as a list; a single code is sent as text,
    exactly as OPI sends it.
    """
    if isinstance(value, (list, tuple)) or (isinstance(value, str) and value.lstrip().startswith("[")):
        return cv.array(value, name)
    return cv.text(value, name)


@endpoint(
    "CreatePost",
    "СоздатьНовость",
    api=["log.blogpost.add"],
    params=[URL, TEXT, VISIBILITY, FILES, TITLE, ("Важное", "important"), TOKEN],
)
def create_post(
    url: str,
    text: Text,
    visibility: IdList = "UA",
    files: Structure = "",
    title: Text = "",
    important: Flag = False,
    token: str = "",
) -> Result:
    """Publish a new post in the news feed, optionally with files and marked as important.

    Calls: log.blogpost.add

    Args:
        url: the webhook URL, or the portal address when a token is used.
        text: the post text (``POST_MESSAGE``).
        visibility: the recipients (``DEST``): one code or a list — ``UA`` all users, ``SGn`` a workgroup,
            ``Un`` a user, ``DRn`` a department, ``Gn`` a group; a single code is sent as a one-item list.
        files: a map of file name → file (bytes, a path, an ``http(s)://`` URL or base64 text) as a dict,
            JSON object text or a path to a .json file; sent as ``FILES``, a list of ``[name, base64]``
            pairs, and left out when empty.
        title: the post title (``POST_TITLE``); left out when empty.
        important: mark the post as important; always sent, as ``"Y"`` or ``"N"`` (``IMPORTANT``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "log.blogpost.add",
        url,
        token,
        POST_MESSAGE=cv.text(text, "text"),
        POST_TITLE=cv.text(title, "title"),
        DEST=cv.array(visibility, "visibility"),
        IMPORTANT=cv.yes_no(important, "important"),
        FILES=file_pairs(files, "files"),
    )


@endpoint(
    "UpdatePost",
    "ИзменитьНовость",
    api=["log.blogpost.update"],
    params=[URL, POST, TEXT, VISIBILITY, FILES, TITLE, TOKEN],
)
def update_post(
    url: str,
    post_id: Id,
    text: Text,
    visibility: IdList = "UA",
    files: Structure = "",
    title: Text = "",
    token: str = "",
) -> Result:
    """Change the text, title, recipients or files of a feed post.

    Calls: log.blogpost.update

    Args:
        url: the webhook URL, or the portal address when a token is used.
        post_id: the post id (sent as text under ``POST_ID``, after ``DEST``).
        text: the new post text (``POST_MESSAGE``).
        visibility: the recipients (``DEST``): one code or a list, as in :func:`create_post`; a single code
            is sent as a one-item list.
        files: a map of file name → file (bytes, a path, an ``http(s)://`` URL or base64 text); sent as
            ``FILES``, a list of ``[name, base64]`` pairs, and left out when empty.
        title: the new post title (``POST_TITLE``); left out when empty.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "log.blogpost.update",
        url,
        token,
        POST_MESSAGE=cv.text(text, "text"),
        POST_TITLE=cv.text(title, "title"),
        DEST=cv.array(visibility, "visibility"),
        POST_ID=cv.text(post_id, "post_id"),
        FILES=file_pairs(files, "files"),
    )


@endpoint("DeletePost", "УдалитьНовость", api=["log.blogpost.delete"], params=[URL, POST, TOKEN])
def delete_post(url: str, post_id: Id, token: str = "") -> Result:
    """Delete a feed post.

    Calls: log.blogpost.delete

    Args:
        url: the webhook URL, or the portal address when a token is used.
        post_id: the post id (sent as text under ``POST_ID``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("log.blogpost.delete", url, token, POST_ID=cv.text(post_id, "post_id"))


@endpoint(
    "GetImportantPostViewers",
    "ПолучитьСписокПросмотревшихВажное",
    api=["log.blogpost.getusers.important"],
    params=[URL, POST, TOKEN],
)
def get_important_post_viewers(url: str, post_id: Id, token: str = "") -> Result:
    """List the ids of the users who have read an important post.

    Calls: log.blogpost.getusers.important

    Args:
        url: the webhook URL, or the portal address when a token is used.
        post_id: the id of the important post (sent as text under ``POST_ID``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post("log.blogpost.getusers.important", url, token, POST_ID=cv.text(post_id, "post_id"))


@endpoint("GetPosts", "ПолучитьНовости", api=["log.blogpost.get"], params=[URL, POST, ("Отбор", "sel"), TOKEN])
def get_posts(url: str, post_id: Id = "", filter: str = "UA", token: str = "") -> Result:
    """Get one post by id, or the posts visible under a rights selector.

    Calls: log.blogpost.get

    One call, one answer: there is no automatic paging (the portal's ``next`` is not followed).

    Args:
        url: the webhook URL, or the portal address when a token is used.
        post_id: the post id (sent as text under ``POST_ID``); empty to list posts.
        filter: the rights selector (``LOG_RIGHTS``): ``UA`` all users (the default), ``SGn`` a workgroup,
            ``Un`` a user, ``DRn`` a department, ``Gn`` a group.
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "log.blogpost.get",
        url,
        token,
        POST_ID=cv.text(post_id, "post_id"),
        LOG_RIGHTS=cv.text(filter, "filter"),
    )


@endpoint("AddPostComment", "ДобавитьКомментарийНовости", api=["log.blogcomment.add"], params=[URL, POST, TEXT, TOKEN])
def add_post_comment(url: str, post_id: Id, text: Text, token: str = "") -> Result:
    """Add a comment to a feed post.

    Calls: log.blogcomment.add

    Args:
        url: the webhook URL, or the portal address when a token is used.
        post_id: the post id (sent as text under ``POST_ID``).
        text: the comment text (``TEXT``).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "log.blogcomment.add", url, token, POST_ID=cv.text(post_id, "post_id"), TEXT=cv.text(text, "text")
    )


@endpoint(
    "AddPostRecipients",
    "ДобавитьПолучателейКНовости",
    api=["log.blogpost.share"],
    params=[URL, POST, VISIBILITY, TOKEN],
)
def add_post_recipients(url: str, post_id: Id, visibility: IdList, token: str = "") -> Result:
    """Share a feed post with more users, departments or groups.

    Calls: log.blogpost.share

    Args:
        url: the webhook URL, or the portal address when a token is used.
        post_id: the post id (sent as text under ``POST_ID``).
        visibility: the new recipients (``DEST``): one code (``UA``, ``SGn``, ``Un``, ``DRn``, ``Gn``) is
            sent as text, as OPI sends it; a list or JSON array text (``['U1','DR2']``) is sent as a list
            (OPI would send that as one string).
        token: an OAuth access token (app mode); empty for a webhook.
    """
    return _core.post(
        "log.blogpost.share",
        url,
        token,
        POST_ID=cv.text(post_id, "post_id"),
        DEST=_recipients(visibility, "visibility"),
    )
