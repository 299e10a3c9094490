"""Dataset adapters: each turns a dataset on disk into ``Case`` objects (see ``base``)."""
