"""Holds the Lark grammar of the thidua ruleset language (``thidua.lark``).

This is a package only so that the grammar ships inside the wheel as package
data; load it with ``importlib.resources.files("grammar") / "thidua.lark"``.
"""
