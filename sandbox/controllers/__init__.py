"""Controllers that act on stored objects, as the cluster's own controllers would.

By default they run real processes behind the objects (real.py: pods, builds, PostgreSQL, barman-cloud); with
`--stand-ins`, standins.py's controllers only write the status a real controller would reach once its work is done
(Deployment available, Job complete, CNPG Cluster ready, ...), so that waits complete. Both implement the same
`Controller` interface (base.py) and reach the API through `Client` (client.py) only.
"""
