"""The audit log: who changed what, when and from where (``recording.py``, ``models.py``)."""
