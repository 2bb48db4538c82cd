"""The state: what was ordered, as a versioned JSON file with a journal, a backup and a lock.

Models in :mod:`.model`, the store in :mod:`.store`, the lock in :mod:`.lock`, format
migrations in :mod:`.migrations`, and the person-facing repairs (`state rm`, `state resolve`)
in :mod:`.operations`.
"""
