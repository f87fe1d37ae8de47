"""The WebSub subscriber: upstream hubs push their feeds' changes to us.

A fetched feed that names a hub and itself (`rel="hub"`, `rel="self"`) has
them stored on its source by the pipeline; the worker subscribes at the hub
(`hub.sync`), the hub verifies at the subscription's callback and then posts
each change there, signed, and `receive` feeds it through the pipeline.

- `policy`: pure rules (signatures, leases, retries);
- `store`: the `hub_subscriptions` rows, over a session passed in;
- `hub`: the worker's requests to hubs (subscribe, renew, unsubscribe);
- `receive`: what the callback hears (verifications, deliveries).
"""
