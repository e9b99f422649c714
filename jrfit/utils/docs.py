"""Shared docstring entries: ``%(name)s`` in a numpydoc docstring filled from a table, as in MNE."""

import re

_FIELD = re.compile(r"%\((\w+)\)s")


def fill_doc(entries, *, indent=True):
    """A decorator that fills each ``%(name)s`` of a docstring with ``entries[name]``.

    Parameters
    ----------
    entries : dict of str to str
        The shared entries, e.g. a parameter's numpydoc description.
    indent : bool
        Indent every line of an entry after its first by four spaces (entries
        written flush left, used under a ``Parameters`` heading). False inserts
        them as written.

    Returns
    -------
    decorate : callable
        Takes a function or class, fills its docstring and returns it. An
        unknown name raises KeyError when the module is imported.
    """

    def decorate(func):
        if func.__doc__:
            func.__doc__ = _FIELD.sub(lambda m: _entry(entries[m.group(1)], indent), func.__doc__)
        return func

    return decorate


def _entry(text, indent):
    if not indent:
        return text
    lines = text.splitlines()
    return "\n".join(lines[:1] + ["    " + line for line in lines[1:]])
