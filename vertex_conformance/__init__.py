"""Conformance suite for Vertex AI's OpenAI-compatible Chat Completions API.

The data flow, one module per step: a case's request goes through a lane (``lanes``) and a
transport (``recording``) and comes back as an ``Exchange`` (``exchange``); pure checks
(``checks``) turn it into ``Finding``s keyed by requirement id (``requirements``); the judge
(``judge``) folds them into a verdict, a ``TestRecord`` (``results``), and the collector
(``collector``) writes the reports. docs/architecture.md draws the whole flow.
"""

__version__ = "0.1.0"
