"""Stampy: a question-answering bot over a curated knowledge base."""

__version__ = "0.1.0"
