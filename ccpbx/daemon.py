"""The ccpbx daemon: start-up, main loop, shutdown.

Start-up order: database, AMI link (with the channel view it feeds), FastAGI
server, HTTP server; then READY to systemd. Shutdown runs in reverse: stop
taking HTTP and FastAGI work, drain calls in progress, close AMI, close the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import signal
import time
import zoneinfo
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from ccpbx import logs, systemd
from ccpbx.acd import AcdEvent, EventKind
from ccpbx.agi import AgiHandler, FastAgiServer
from ccpbx.ami.channels import ChannelView
from ccpbx.ami.client import AmiClient
from ccpbx.callcontrol.control import CallControl
from ccpbx.callcontrol.manual import ManualDial
from ccpbx.callcontrol.outside import OutsideDialing
from ccpbx.cdr import CallRecorder
from ccpbx.config import Config, load
from ccpbx.database import Database
from ccpbx.dialer.dispositions import DispositionDesk
from ccpbx.dialer.runtime.runner import RunnerSettings
from ccpbx.dialer.runtime.service import DialerService
from ccpbx.errors import CcpbxError
from ccpbx.health import ComponentStatus, HealthRegistry
from ccpbx.http.app import make_app
from ccpbx.http.routes_agent import setup_agent_routes
from ccpbx.http.routes_calls import setup_call_routes
from ccpbx.http.routes_conf import setup_conf_routes
from ccpbx.http.routes_dialer import setup_dialer_routes
from ccpbx.http.routes_pbx import setup_pbx_routes
from ccpbx.http.routes_softphone import setup_softphone_routes
from ccpbx.http.routes_supervision import setup_supervision_routes
from ccpbx.ivr import store as ivr_store
from ccpbx.metrics import LATENCY_BUCKETS, WAIT_BUCKETS, MetricsRegistry, Sample
from ccpbx.pbx.hours_script import handler_for as hours_handler
from ccpbx.pbx.outside import handler_for as outside_call_handler
from ccpbx.queues.features import acd_handlers
from ccpbx.queues.help import HelpDesk
from ccpbx.queues.inbound_dispositions import InboundDispositions
from ccpbx.queues.model import DirectLines
from ccpbx.queues.reasons import PauseReasons
from ccpbx.queues.screenpop import ScreenPops
from ccpbx.queues.service import QueueService
from ccpbx.store.phones import CallingWindow
from ccpbx.store.token_checks import TokenChecks
from ccpbx.store.tokens import ApiToken
from ccpbx.users.service import SessionSettings, SignIn
from ccpbx.web import setup_web_routes
from ccpbx.welcome import welcome

log = structlog.get_logger(__name__)


def default_handlers(database: Database | None = None) -> dict[str, AgiHandler]:
    """`inbound` runs the IVR flow active for the DID dialed; a DID with no flow (or no
    database to look flows up in) gets the welcome greeting."""
    if database is None:
        return {"inbound": welcome}
    from ccpbx.ivr.runner import IvrRuntime

    return {"inbound": IvrRuntime(lambda: database.pool, fallback=welcome).handle}


class Daemon:
    def __init__(
        self,
        config: Config,
        handlers: Mapping[str, AgiHandler] | None = None,
        config_path: Path | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.database = Database(config.database)
        self.handlers = dict(handlers if handlers is not None else default_handlers(self.database))
        self.health = HealthRegistry()
        self.metrics = MetricsRegistry()
        self._agi_rtt = self.metrics.histogram(
            "ccpbx_agi_command_seconds",
            "FastAGI command sent -> Asterisk's reply (a STREAM FILE lasts as its sound)",
            LATENCY_BUCKETS,
            labels=("command",),
        )
        self._acd_wait = self.metrics.histogram(
            "ccpbx_acd_wait_seconds",
            "a caller's wait in the queue until an agent answered",
            WAIT_BUCKETS,
            labels=("queue",),
        )
        self._answer_to_agent = self.metrics.histogram(
            "ccpbx_dialer_answer_to_agent_seconds",
            "campaign call answered by a person -> put through to an agent",
            LATENCY_BUCKETS,
            labels=("campaign",),
        )
        self.channels = ChannelView()
        self.ami = AmiClient(config.ami.session())
        self.tokens = TokenChecks(lambda: self.database.pool)
        self.acd = QueueService(
            self.ami,
            self.channels,
            pool=lambda: self.database.pool,
            database_ready=self.database.wait_ready,
            pause_reasons=PauseReasons.parse(config.acd.pause_reasons),
            report_zone=zoneinfo.ZoneInfo(config.acd.report_time_zone),
        )
        self.help = HelpDesk(self.acd, lambda: self.database.pool)
        lines = config.direct_lines
        self.acd.floor.direct = DirectLines(
            max_wait_s=lines.max_wait_s,
            ring_timeout_s=lines.ring_timeout_s,
            wrapup_s=lines.wrapup_s,
            record=lines.record,
        )
        self.acd.add_listener(self._acd_event)
        self.screen_pops = ScreenPops(
            self.acd,
            self.channels,
            lambda: self.database.pool,
            history_days=config.http.screen_pop_history_days,
        )
        self.cdr = CallRecorder(self.ami, self.channels, lambda: self.database.pool)
        self.acd.add_listener(self.cdr.on_acd)
        self.dialer: DialerService | None = None
        self.dispositions: DispositionDesk | None = None
        if config.dialer.enabled:
            self.dialer = DialerService(
                self.ami,
                self.channels,
                self.acd,
                pool=lambda: self.database.pool,
                settings=RunnerSettings(
                    grace_s=config.dialer.grace_s,
                    abandon_prompt=config.dialer.abandon_prompt,
                    machine_prompt=config.dialer.machine_prompt,
                ),
                on_agent_connected=self._campaign_connected,
            )
        for script, handler in acd_handlers(self.acd).items():
            self.handlers.setdefault(script, handler)
        outside = OutsideDialing(self.ami, config.dialing, lambda: self.database.pool)
        self.manual_dial = ManualDial(
            self.ami,
            self.acd,
            outside,
            config.dialing,
            CallingWindow.parse(config.dialer.manual_window),
            lambda: self.database.pool,
        )
        self.calls = CallControl(
            self.ami,
            self.acd,
            outside,
            lambda: self.database.pool,
        )
        self.handlers.setdefault(
            "phone-outside", outside_call_handler(config.dialing, lambda: self.database.pool)
        )
        self.handlers.setdefault("hours", hours_handler(lambda: self.database.pool))
        self.agi = FastAgiServer(
            config.agi.host,
            config.agi.port,
            self.handlers,
            header_timeout=config.agi.header_timeout,
            command_timeout=config.agi.command_timeout,
            max_header_bytes=config.agi.max_header_bytes,
            max_connections=config.agi.max_connections,
            max_connections_per_source=config.agi.max_connections_per_source,
            max_pending_per_source=config.agi.max_pending_per_source,
            on_reply=self._agi_replied,
        )
        self.sign_in = SignIn(lambda: self.database.pool, SessionSettings.from_config(config.http))
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._stop = asyncio.Event()
        self._stopped = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.started_at = time.time()
        self.http_port = config.http.port

    # -- wiring ----------------------------------------------------------------
    def _register_health(self) -> None:
        self.health.register("database", self.database.status)
        self.health.register("ami", self._ami_status)
        self.health.register("agi", self._agi_status)
        self.health.register("acd", self.acd.status)
        self.health.register("cdr", self.cdr.status)
        if self.dialer is not None:
            self.health.register("dialer", self.dialer.status)
        self.metrics.register(self.database.samples)
        self.metrics.register(self._samples)
        self.metrics.register(self.cdr.samples)

    def _ami_status(self) -> ComponentStatus:
        snap = self.ami.health()
        detail = snap.as_dict()
        # While the link is down ccpbx does not know which channels live: none is shown
        # (the view is read again from Asterisk on reconnect).
        detail["channels"] = len(self.channels) if self.ami.ready else None
        return ComponentStatus("ami", snap.state == "connected", snap.state, detail)

    def _campaign_connected(self, campaign: str, seconds: float) -> None:
        self._answer_to_agent.labels(campaign).observe(seconds)

    def _acd_event(self, event: AcdEvent) -> None:
        if event.kind is EventKind.CALL_ANSWERED and event.wait_s is not None and event.queue:
            self._acd_wait.labels(event.queue).observe(event.wait_s)

    def _agi_replied(self, command: str, seconds: float) -> None:
        self._agi_rtt.labels(command).observe(seconds)

    def _agi_status(self) -> ComponentStatus:
        stats = self.agi.stats()
        try:
            port: int | None = self.agi.port
        except RuntimeError:
            port = None
        state, refusal = self.agi.health()
        # Refusing connections: some calls may have taken the dialplan's fallback.
        return ComponentStatus(
            "agi", state == "listening", state, {"port": port, **refusal, **stats.as_dict()}
        )

    def _samples(self) -> list[Sample]:
        snap = self.ami.health()
        samples = [
            Sample("ccpbx_up", "gauge", "1 while the daemon runs", 1),
            Sample(
                "ccpbx_ami_connected",
                "gauge",
                "1 while the AMI link is up",
                1 if snap.state == "connected" else 0,
            ),
            Sample("ccpbx_ami_reconnects_total", "counter", "AMI reconnects", snap.reconnects),
            Sample(
                "ccpbx_asterisk_restarts_total",
                "counter",
                "Reconnects that found a restarted Asterisk",
                snap.asterisk_restarts,
            ),
            Sample(
                "ccpbx_ami_events_total", "counter", "AMI events received", snap.events_received
            ),
            Sample(
                "ccpbx_ami_events_dropped_total",
                "counter",
                "AMI events dropped on overflow",
                snap.events_dropped,
            ),
            Sample("ccpbx_channels", "gauge", "live channels seen on Asterisk", len(self.channels)),
        ]
        for name, value in self.agi.stats().as_dict().items():
            kind = "gauge" if name.endswith("_active") else "counter"
            metric = f"ccpbx_agi_{name}" if kind == "gauge" else f"ccpbx_agi_{name}_total"
            samples.append(Sample(metric, kind, f"FastAGI {name.replace('_', ' ')}", value))
        return samples

    async def _verify_token(self, token: str) -> ApiToken:
        return await self.tokens.verify(token)

    # -- lifecycle -------------------------------------------------------------
    async def start(self) -> None:
        self._register_health()
        await self.database.start()
        self.channels.attach(self.ami)
        await self.ami.start()
        await self.acd.start()
        self.cdr.start()
        if self.dialer is not None:
            self._spawn(self._start_dialer(self.dialer), "dialer-start")
        self._spawn(self._settle_ivr_calls(), "ivr-settle")
        await self.agi.start()
        self.tokens.start()
        app = make_app(
            self.health,
            self.metrics,
            self._verify_token,
            self.acd,
            self.sign_in,
            token_failures_per_minute=self.config.http.token_max_failures_per_source,
        )
        setup_web_routes(app)
        # Admin API: phones, trunks, numbers and the Asterisk configuration, against the
        # configuration as last (re)loaded.
        setup_pbx_routes(app, lambda: self.database.pool, lambda: self.config)
        setup_conf_routes(app, lambda: self.database.pool, lambda: self.config)
        setup_softphone_routes(app)
        setup_call_routes(app, self.calls)
        setup_supervision_routes(app, self.help, self.acd.pause_reasons)
        inbound = InboundDispositions(self.acd, self.screen_pops, lambda: self.database.pool)
        setup_agent_routes(app, self.screen_pops, self.manual_dial, inbound)
        if self.dialer is not None:
            setup_dialer_routes(app, self.dialer, lambda: self.database.pool)
            self.dispositions = DispositionDesk(self.ami, lambda: self.database.pool, self.dialer)
            await self.dispositions.start()
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self.config.http.host, self.config.http.port)
        await self._site.start()
        server = self._site._server  # the bound socket tells the real port when 0 was asked
        if server is not None and server.sockets:  # type: ignore[attr-defined]
            self.http_port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        interval = systemd.watchdog_interval()
        if interval:
            self._spawn(self._watchdog(interval), "systemd-watchdog")
        systemd.notify("READY=1\nSTATUS=serving")
        log.info(
            "daemon_started",
            http_port=self.http_port,
            agi_port=self.agi.port,
            ami=f"{self.config.ami.host}:{self.config.ami.port}",
            config=self.config.source,
        )

    async def _start_dialer(self, dialer: DialerService) -> None:
        # After the ACD has recovered its calls from Asterisk (it may wait for the link).
        while True:
            try:
                await dialer.start(ready_timeout=60.0)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("dialer_start_failed", error=repr(exc))
                await asyncio.sleep(2.0)

    async def _settle_ivr_calls(self) -> None:
        # IVR calls a killed ccpbx left open: once the channel view says which live.
        started = dt.datetime.fromtimestamp(self.started_at, dt.UTC)
        while True:
            try:
                await self.ami.wait_ready(None)
                if self.channels.resyncs == 0:
                    await self.channels.wait_resync(0, 30)
                if not await self.database.wait_ready(30):
                    continue
                live = {str(c["uniqueid"]) for c in self.channels.snapshot()}
                ended = await ivr_store.settle_interrupted(
                    self.database.pool, before=started, live=live, now=dt.datetime.now(dt.UTC)
                )
                if ended:
                    log.info("ivr_calls_interrupted_settled", calls=ended)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("ivr_settle_failed", error=repr(exc))
                await asyncio.sleep(2.0)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watchdog(self, interval: float) -> None:
        # The ping proves the event loop turns; a wedged loop gets restarted by systemd.
        while True:
            systemd.notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    def request_stop(self) -> None:
        self._stop.set()

    def reload(self) -> None:
        """SIGHUP: re-read the config file; apply what can change without a restart."""
        try:
            fresh = load(self.config_path)
        except CcpbxError as exc:
            log.error("config_reload_failed", error=exc.message)
            return
        logs.configure(fresh.log.level, fresh.log.format)
        needs_restart = [
            s
            for s in ("ami", "agi", "http", "database")
            if getattr(fresh, s) != getattr(self.config, s)
        ]
        self.config = fresh
        log.info("config_reloaded", applied=["log"], needs_restart=needs_restart)

    async def stop(self) -> None:
        """Stop everything in reverse order; a second call does nothing."""
        if self._stopped:
            return
        self._stopped = True
        systemd.notify("STOPPING=1")
        log.info("daemon_stopping")
        timeout = self.config.daemon.shutdown_timeout
        if self._site is not None:
            await self._site.stop()  # no new HTTP requests
        await self.agi.close(grace=timeout / 2)  # no new calls; drain the ones in progress
        if self.dialer is not None:
            for task in [t for t in self._tasks if t.get_name() == "dialer-start"]:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            await self.dialer.stop()  # no new calls; those in flight stay up in Asterisk
        if self.dispositions is not None:
            await self.dispositions.stop()
        await self.calls.stop()
        await self.screen_pops.stop()
        await self.acd.stop()  # calls stay up in Asterisk; a restart finds them again
        await self.cdr.stop(timeout=timeout / 4)  # write the call records still pending
        await self.ami.close()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.tokens.stop()  # the last uses, before the pool closes
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.database.close()
        log.info("daemon_stopped")

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.request_stop)
        loop.add_signal_handler(signal.SIGINT, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        await self.start()
        try:
            await self._stop.wait()
        finally:
            with contextlib.suppress(Exception):
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                    loop.remove_signal_handler(sig)
            await self.stop()
