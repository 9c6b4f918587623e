"""The docker-free local stack and the ``touchpoint`` command line (not part of the Lambda layer).

``template`` reads template.yaml, ``provision`` creates its resources in a moto server, ``gateway``
serves its HttpApi routes as API Gateway HTTP API v2 events to the real handlers, ``stack`` ties them
together and ``cli`` is the console script.
"""
