"""AMI layer: pure protocol, supervised client (panoramisk behind a wall), channel view.

Public API::

    from ccpbx.ami import AmiClient, AmiSettings, ChannelView

    settings = AmiSettings(host="127.0.0.1", port=5038, username="ccpbx", secret="...")
    async with AmiClient(settings) as client:
        view = ChannelView()
        view.attach(client)
        await client.wait_ready(timeout=5)
        result = await client.action("CoreStatus", timeout=2)
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
