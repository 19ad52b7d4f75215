"""AMI layer: pure protocol, supervised client (panoramisk behind a wall), channel view.

Usage::

    from ccpbx.ami import AmiClient, AmiSettings, ChannelView

    settings = AmiSettings(host="127.0.0.1", port=5038, username="ccpbx", secret="...")
    view = ChannelView()
    async with AmiClient(settings) as client:       # start(): supervisor + consumer tasks
        view.attach(client)                          # events + resync after every (re)connect
        await client.wait_ready(timeout=5)           # AmiNotConnected (with last error) if not
        result = await client.action("CoreStatus", timeout=2)
        result.response["CoreCurrentCalls"]
        chans = await client.action("CoreShowChannels")   # list action: .response, .events
        client.on_event("Hangup", handler)           # sync or async; "*" for every event
        client.health().as_dict()                    # state, since, last_error, counters
        view.snapshot()                              # plain data of live channels

Modules: ``protocol`` (pure framer/parser and action encoder), ``link`` (the
asyncio protocol under panoramisk's ``Manager``), ``events`` (bounded intake and
ordered consumer), ``client`` (supervision, actions, health), ``channels``
(``ChannelView``), ``instance`` (which Asterisk process, which channel: pure),
``settings``, ``errors``; reconnects use :mod:`ccpbx.backoff`.
"""

from ccpbx.ami.channels import Channel, ChannelView
from ccpbx.ami.client import AmiClient, AmiHealth
from ccpbx.ami.errors import (
    AmiActionError,
    AmiActionTimeout,
    AmiError,
    AmiInjectionError,
    AmiLinkLost,
    AmiLoginError,
    AmiNotConnected,
)
from ccpbx.ami.link import AmiResult
from ccpbx.ami.protocol import AmiFramer, AmiMessage, encode_action
from ccpbx.ami.settings import AmiSettings

__all__ = [
    "AmiActionError",
    "AmiActionTimeout",
    "AmiClient",
    "AmiError",
    "AmiFramer",
    "AmiHealth",
    "AmiInjectionError",
    "AmiLinkLost",
    "AmiLoginError",
    "AmiMessage",
    "AmiNotConnected",
    "AmiResult",
    "AmiSettings",
    "Channel",
    "ChannelView",
    "encode_action",
]
