"""The Discord front end: the bot object, the asking cog, buttons and rendering.

The application core (:mod:`bot.service`) knows nothing of Discord; this package translates
Discord events into calls on it and renders the results as embeds and buttons.
"""
