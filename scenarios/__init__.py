"""YAML scenarios shipped with ledgerlab and the schema that validates them."""
