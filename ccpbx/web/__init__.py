"""The web console: pages served by the daemon's own HTTP app (same process, same auth),
with their JavaScript and CSS under ``/static/`` (vendored packages included: no CDN)."""

from ccpbx.web.routes import setup_web_routes

__all__ = ["setup_web_routes"]
