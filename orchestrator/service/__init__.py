"""The HTTP face of celeriac (``celeriac serve``): a stateless ASGI app over the SDK.

- ``app``: the app and what every request shares (``Service``), keys as tenants
- ``jobs``, ``streams``, ``conversations``, ``chat``, ``health``, ``page``: its routes
- ``keys``, ``tenants``: API keys (hashes only), a key's jobs, rate and jobs in flight
- ``limits``: body size and type, before any route reads a request
- ``server``, ``cli``: ``celeriac serve``, ``keys`` and ``chat``
- ``wire``: the service's names in Redis
"""
