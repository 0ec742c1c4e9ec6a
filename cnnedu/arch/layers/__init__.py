"""The layer types a spec may use, one small module per family (conv, pool, norm, ...); ``registry`` holds
the record every type fills in and the lookup."""
