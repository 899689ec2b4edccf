"""``infrasight edge``: the store-and-forward agent of a field terminal.

Producers (a watched folder of datalogger CSV files, a local HTTP endpoint) write into a durable
SQLite queue (:mod:`.queue`); the sender (:mod:`.agent`) forwards it upstream (:mod:`.upstream`)
live data first, then backfill, and deletes only what the server acknowledged.
"""
