"""Conformance runners for opi-bitrix24 (in-process helpers and the external CLI runner)."""
