"""Push: providers' change notifications instead of polling (docs/push.md).

``store``: the subscriptions and signals tables; ``lifecycle``: subscriptions opened,
renewed and removed with the integration; ``work``: stored signals turned into syncs;
``receive``: the public receiving route's logic; ``mode``: push or polling, and why.
"""
