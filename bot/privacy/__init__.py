"""Data protection: who may read restricted requests (access.py), the retention policy and legal
holds (policy.py, retention.py, holds.py), a person's copy of their data and their erasure
(export.py, erase.py). docs/data-protection.md says what is kept, for how long and who sees it.
"""
