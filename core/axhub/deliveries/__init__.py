"""Durable outbound deliveries (webhook calls, chat posts): a message is stored before
any attempt, attempted from the store by the worker through the provider's ``deliver``
hook, retried under its policy, and logged attempt by attempt.

Plugins reach it as ``ctx.deliveries`` (:class:`Deliveries`) from ``notify``.
"""

from .queue import Deliveries, Policy
from .worker import DeliveryWorker

__all__ = ["Deliveries", "DeliveryWorker", "Policy"]
