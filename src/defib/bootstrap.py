"""Wiring: build the database, services and classifier from settings.

The API, the CLI and the embedded Responder all start from `Runtime`; nothing below the
service layer knows which concrete adapters it runs with.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import make_url

from defib.actions.environment import ActionEnvironment
from defib.actions.escalate import PagingHooks
from defib.actions.resolve import PagerDutyResolver
from defib.actions.silenced_leak import SilencedLeakTeller
from defib.auth import Role, generate_token
from defib.classify import Classifier, RuleError, RuleSet
from defib.clock import utcnow
from defib.config import ConfigError, Settings
from defib.evidence import EvidenceService
from defib.evidence.setup import trust_warnings
from defib.hardening import anonymous_warnings, loose_modes, private_dir, private_file
from defib.incidents.lifecycle import IncidentService
from defib.incidents.review import ReviewService
from defib.intake.folding import AlertFolding
from defib.intake.pipeline import Intake
from defib.intake.storm import StormGuard
from defib.oncall.config import directory as oncall_directory
from defib.oncall.inbound import PagerDutyInbound
from defib.oncall.service import OncallService
from defib.playbooks.engine import PlaybookEngine, dbos_system_url
from defib.playbooks.loader import PlaybookSet
from defib.playbooks.slack_approvals import SlackApprovalRequests, SlackAttentionNotices
from defib.playbooks.spec import PlaybookErrors
from defib.postmortem.service import PostmortemService
from defib.silences import DEFAULT_INHIBIT_RULES, InhibitRule, parse_matchers
from defib.silences.service import SilenceService, WindowSpec
from defib.store import migrate
from defib.store import systems as systems_repo
from defib.store import tokens as token_repo
from defib.store.database import Database
from defib.store.storm import DatabaseStormBudget
from defib.store.token_cache import TokenCache
from defib.systems.changes import SystemChanges
from defib.systems.control import ControlService
from defib.telemetry import Telemetry

log = logging.getLogger(__name__)


def build_classifier(settings: Settings) -> Classifier:
    """The classifier with the user's rules (if any) ahead of the built-in ones."""
    rules = RuleSet.default()
    if settings.rules_file is not None:
        try:
            rules = rules.prepend(RuleSet.load(settings.rules_file))
        except OSError as exc:
            raise ConfigError(f"rules_file: {settings.rules_file}: {exc.strerror or exc}") from exc
        except RuleError as exc:
            raise ConfigError(f"rules_file: {settings.rules_file}: {exc}") from exc
    return Classifier(rules=rules)


def load_playbooks(settings: Settings) -> PlaybookSet:
    try:
        return PlaybookSet.load(settings.playbooks_dir)
    except PlaybookErrors as exc:
        problems = "; ".join(str(e) for e in exc.errors)
        raise ConfigError(f"playbooks_dir: {problems}") from exc


def inhibit_rules(settings: Settings) -> tuple[InhibitRule, ...]:
    if settings.inhibit_rules is None:
        return DEFAULT_INHIBIT_RULES
    return tuple(
        InhibitRule(
            parse_matchers(r.source_matchers), parse_matchers(r.target_matchers), tuple(r.equal)
        )
        for r in settings.inhibit_rules
    )


def maintenance_windows(settings: Settings) -> list[WindowSpec]:
    return [
        WindowSpec(w.name, parse_matchers(w.all_matchers()), w.schedule(), w.comment)
        for w in settings.maintenance_windows
    ]


def _sqlite_files(url: str) -> list[Path]:
    """The SQLite files a database URL means: defib's and DBOS's (none for PostgreSQL)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return []
    system = make_url(dbos_system_url(url)).database
    return [Path(parsed.database)] + ([Path(system)] if system else [])


NO_OWNERS_WARNING = (
    "no owner is configured to notify (systems[].owners, default_owners, or"
    " notifications.security_contacts): incidents will reach nobody"
)


class Runtime:
    """Everything a defib process needs, built once from settings."""

    def __init__(self, settings: Settings, *, migrate_on_start: bool = True) -> None:
        self.settings = settings
        private_dir(settings.data_dir)
        sqlite_files = _sqlite_files(settings.resolved_database_url)
        for path in sqlite_files:
            private_dir(path.parent)
            private_file(path)
        # Checked once at start (issue 11): logged, and shown on /readyz.
        self.security_warnings = anonymous_warnings(settings) + loose_modes(
            settings.data_dir, sqlite_files
        )
        # What the configuration leaves undone: `defib serve` prints it at start, and /readyz
        # shows it beside the security warnings (not logged here: CLI commands build
        # runtimes too, and their stderr is one line on error).
        self.config_warnings = [NO_OWNERS_WARNING] if settings.reaches_nobody else []
        for warning in self.security_warnings:
            log.warning("%s", warning)
        self.db = Database(settings.resolved_database_url)
        if migrate_on_start:
            migrate.upgrade(self.db)
            self.register_systems()
        self.silences = SilenceService(
            self.db,
            utcnow,
            inhibit_rules=inhibit_rules(settings),
            max_duration=timedelta(hours=settings.silences.max_duration_hours),
            known_systems=[s.name for s in settings.systems],
            tell_security=settings.silences.tell_security_of_silenced_leaks,
        )
        if migrate_on_start:
            self.silences.sync_windows(maintenance_windows(settings))
        # Secrets named by `*_env` settings: read from this process's environment here, at
        # the root; the API, the console and actions are handed this mapping.
        self.secrets: Mapping[str, str] = os.environ
        # The process's own knobs, read here too: DBOS's log level and a worker's fixed DBOS
        # executor id (`defib serve`, the Responder and the demo start their workers with it).
        self.dbos_log_level = self.secrets.get("DEFIB_DBOS_LOG_LEVEL", "WARNING")
        self.executor_id: str | None = self.secrets.get("DEFIB_EXECUTOR_ID") or None
        # One per process: its anchor remembers a failed checkpoint write for /readyz.
        self.evidence = EvidenceService.for_settings(self.db, settings, secrets=self.secrets)
        for warning in trust_warnings(settings, self.db):
            log.warning("%s", warning)
            self.security_warnings.append(warning)
        # Kill switches, filters, routing and versions: one service for actions, API, console.
        self.control = ControlService(self.db, clock=self.now)
        self.incidents = IncidentService(
            self.db,
            # PagerDuty incidents resolve with defib's, after the resolving commit.
            on_resolved=[PagerDutyResolver(settings, self.now)],
        )
        # Alerts into incidents: runs planned and resolves announced through `incidents`.
        self.folding = AlertFolding(
            self.db,
            self.incidents,
            clock=self.now,
            reopen_window=timedelta(seconds=settings.reopen_window_seconds),
            quiet=self.silences.gate,
            # PostgreSQL: one budget for every replica (issue 25); SQLite: one process.
            storm=StormGuard(
                settings.storm,
                shared=None if self.db.is_sqlite else DatabaseStormBudget(self.db),
            ),
            exact_fold=settings.intake.exact,
        )
        # What actions run with (settings, database, services, clock, secrets, HTTP): one per
        # process, injected.
        self.actions_env = ActionEnvironment(
            settings=settings,
            db=self.db,
            control=self.control,
            evidence=self.evidence,
            incidents=self.incidents,
            clock=self.now,
            secrets=self.secrets,
        )
        # People's changes to systems (the API's PUT and the console's controls).
        self.system_changes = SystemChanges(
            settings, self.control, self.actions_env.http_client, self.secrets
        )
        self.leak_teller = SilencedLeakTeller(self.actions_env)
        self.silences.on_leak = self.leak_teller.tell
        self.engine = PlaybookEngine(
            self.db,
            playbooks=load_playbooks(settings),
            settings=settings,
            environment=self.actions_env,
            dbos_log_level=self.dbos_log_level,
        )
        # A step waiting for approval is also asked in Slack (Approve / Reject buttons).
        self.engine.on_waiting.append(SlackApprovalRequests(settings, self.db))
        self.engine.on_attention.append(SlackAttentionNotices(settings, self.db))
        # The engine's hooks plus an escalation run per on-call policy (actions/escalate).
        # Set here, not in the constructor: the engine needs the actions' environment, which
        # carries the incident service.
        self.incidents.hooks = PagingHooks(
            self.engine,
            lambda conn, incident, actor, pb: self.engine.plan_run(
                conn, incident, actor, playbook=pb
            ),
            settings,
        )
        self.oncall = OncallService(self.db, oncall_directory(settings), self.now)
        self.pagerduty_inbound = PagerDutyInbound(self.db, self.incidents, self.now)
        self.tokens = TokenCache(self.db)
        self.telemetry = Telemetry(self.db, cache_seconds=settings.metrics.cache_seconds)
        # Late-bound: tests (and the demo) may swap the incident service's clock.
        self.review = ReviewService(self.db, self.now)
        self.postmortems = PostmortemService(self.db, self.review, self.now, evidence=self.evidence)
        self.intake = Intake(
            self.folding, build_classifier(settings), on_results=self.telemetry.count_alerts
        )

    def now(self) -> datetime:
        """The runtime's clock (the incident service's: tests and the demo may swap it);
        services and handlers read time here, not from the wall, so one clock decides."""
        return self.incidents.clock()

    def register_systems(self) -> None:
        """Give every configured system a state row and register its versions (idempotent).

        An existing state is kept: a restart must not undo a kill switch or a rollback.
        """
        now = utcnow()  # at construction, before the incident service (and its clock)
        with self.db.write() as conn:
            for system in self.settings.systems:
                systems_repo.ensure_versions(conn, system.name, [v.name for v in system.versions])
                state = systems_repo.ensure_state(conn, system.name, system.initial_version, now)
                if state.active_version is not None:
                    systems_repo.note_served(conn, system.name, state.active_version, now)

    def ensure_admin_token(self) -> Path | None:
        """On first start with no tokens, create an admin token in a 0600 file; return its path."""
        with self.db.write() as conn:
            if token_repo.count_active_tokens(conn) > 0:
                return None
            token = generate_token()
            token_repo.create_token(
                conn,
                name="admin",
                role=Role.ADMIN,
                token=token,
                created_by="system",
                now=utcnow(),
            )
            path = self.settings.admin_token_path
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(token + "\n")
            os.chmod(path, 0o600)
        return path

    def close(self) -> None:
        self.engine.close()
        self.db.dispose()
