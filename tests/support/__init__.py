"""Test doubles that are real code paths: a tiny SDK and its instrumentor."""
