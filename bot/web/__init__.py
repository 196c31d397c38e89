"""The read-only web site and JSON API over an open :class:`~bot.app.App` (``stampy web``).

No discord imports here: the site reads the same service, knowledge base and stamps the bot
answers from. See :mod:`bot.web.site` for the application and its routes.
"""

from bot.web.site import build_site

__all__ = ["build_site"]
