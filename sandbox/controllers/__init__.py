"""Controllers that act on stored objects, as the cluster's own controllers would.

The ones here are stand-ins that only write the status a real controller would reach once its work is done
(Deployment available, Job complete, CNPG Cluster ready, ...), so that waits complete. Part 2 of the sandbox
replaces them with controllers that run real processes, through the same `Controller` interface (base.py).
"""
