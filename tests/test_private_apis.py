"""One guard per private API of a dependency that our code patches, overrides or reads.

A private attribute can vanish or change shape in any release, and most of ours would then fail
silently (an override nobody calls any more, a transport option nobody reads, a patch on a method
that is gone). Each test checks the shape we use, by behaviour where that is cheap, and its
failure names the dependency's version, the API and the file of ours to adapt. CONTRIBUTING.md
("Upgrading dependencies") lists them; a new private use gets its guard here and a row there.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.metadata
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import ROOT


@dataclass(frozen=True)
class Private:
    """A private API of ``distribution`` that ``used_by`` (a file of ours) depends on."""

    distribution: str
    api: str
    used_by: str

    def changed(self, expected: str) -> str:
        version = importlib.metadata.version(self.distribution)
        return (
            f"{self.distribution} {version}: {self.api} is no longer what {self.used_by} relies on "
            f"({expected}). Adapt {self.used_by} before taking this version "
            "(CONTRIBUTING.md, 'Upgrading dependencies')."
        )


def parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def reads(function: Callable[..., Any], name: str) -> bool:
    """Whether ``function``'s own code names the attribute or global ``name`` (calls it, reads it)."""
    return name in inspect.unwrap(function).__code__.co_names


# --- marshmallow ------------------------------------------------------------------------------

INIT_FIELDS = Private("marshmallow", "Schema._init_fields", "netraven_tasks/preferences.py")
DECLARED_FIELDS = Private("marshmallow", "Schema._declared_fields", "netraven_tasks/preferences.py")
FIELD_DESERIALIZE = Private(
    "marshmallow", "Field._deserialize", "api/schemas.py, netraven_tasks/maintenance/schemas.py"
)


def test_marshmallow_schema_init_fields_builds_the_fields_from_declared_fields():
    from marshmallow import Schema, fields

    class Extended(Schema):
        declared = fields.String()

        def _init_fields(self) -> None:  # as ChannelFieldsSchema adds each channel's fields
            self.declared_fields = {**copy.deepcopy(type(self)._declared_fields), "added": fields.Integer()}
            super()._init_fields()

    assert parameters(Schema._init_fields) == ["self"], INIT_FIELDS.changed("a method of no argument")
    assert reads(Schema.__init__, "_init_fields"), INIT_FIELDS.changed("called by Schema.__init__")
    loaded = Extended().load({"declared": "x", "added": "3"})
    assert loaded == {"declared": "x", "added": 3}, INIT_FIELDS.changed("loads the fields it was given")


def test_marshmallow_schema_declared_fields_maps_every_inherited_field():
    from marshmallow import Schema, fields

    class Base(Schema):
        inherited = fields.String()

    class Child(Base):
        own = fields.Integer()

    declared = getattr(Child, "_declared_fields", None)
    assert isinstance(declared, dict), DECLARED_FIELDS.changed("a dict on the class")
    assert set(declared) == {"inherited", "own"}, DECLARED_FIELDS.changed("the class's and its bases' fields")
    assert all(isinstance(field, fields.Field) for field in declared.values()), DECLARED_FIELDS.changed(
        "name -> Field"
    )


def test_marshmallow_field_deserialize_takes_value_attr_data_and_keywords():
    from marshmallow import fields

    signature = inspect.signature(fields.AwareDateTime._deserialize)
    assert list(signature.parameters)[:4] == ["self", "value", "attr", "data"], FIELD_DESERIALIZE.changed(
        "_deserialize(value, attr, data, **kwargs)"
    )
    assert any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()), FIELD_DESERIALIZE.changed(
        "**kwargs"
    )
    assert reads(fields.Field.deserialize, "_deserialize"), FIELD_DESERIALIZE.changed("called by deserialize")


# --- pydantic-settings ----------------------------------------------------------------------

LOAD_ENV_VARS = Private("pydantic-settings", "EnvSettingsSource._load_env_vars", "netraven_tasks/settings.py")
PARSE_ENV_VARS = Private("pydantic-settings", "sources.utils.parse_env_vars", "netraven_tasks/settings.py")


def test_pydantic_settings_env_source_reads_what_load_env_vars_returns():
    from pydantic_settings import EnvSettingsSource

    from netraven_tasks.settings import Settings, _MappingSource

    assert parameters(EnvSettingsSource._load_env_vars) == ["self"], LOAD_ENV_VARS.changed("no argument")
    assert reads(EnvSettingsSource.__init__, "_load_env_vars"), LOAD_ENV_VARS.changed("called by __init__")
    source = _MappingSource(
        Settings, {"NETRAVEN_DIGEST_HOUR": "5", "UNRELATED": "x", "NETRAVEN_LOG_FORMAT": ""}
    )
    for attribute in ("case_sensitive", "env_ignore_empty", "env_parse_none_str"):
        assert hasattr(source, attribute), LOAD_ENV_VARS.changed(f"the source has {attribute}")
    assert source() == {"digest_hour": "5"}, LOAD_ENV_VARS.changed("the source's values come from it")


def test_pydantic_settings_parse_env_vars_folds_case_and_drops_empty_values():
    from pydantic_settings.sources.utils import parse_env_vars

    assert parameters(parse_env_vars) == ["env_vars", "case_sensitive", "ignore_empty", "parse_none_str"], (
        PARSE_ENV_VARS.changed("parse_env_vars(env_vars, case_sensitive, ignore_empty, parse_none_str)")
    )
    parsed = parse_env_vars({"NETRAVEN_A": "1", "NETRAVEN_B": ""}, False, True, None)
    assert parsed == {"netraven_a": "1"}, PARSE_ENV_VARS.changed("names lower-cased, empty values dropped")


# --- billiard -----------------------------------------------------------------------------------

HELP_STUFF_FINISH = Private("billiard", "Pool._help_stuff_finish", "netraven_tasks/pool_shutdown.py")
INQUEUE = Private("billiard", "SimpleQueue._rlock and ._reader", "netraven_tasks/pool_shutdown.py")


def test_billiard_pool_help_stuff_finish_is_a_static_method_the_pool_calls_at_shutdown():
    from billiard.pool import Pool

    method = inspect.getattr_static(Pool, "_help_stuff_finish", None)
    assert isinstance(method, staticmethod), HELP_STUFF_FINISH.changed("a staticmethod of Pool")
    assert len(parameters(method.__func__)) == 3, HELP_STUFF_FINISH.changed("(inqueue, task_handler, pool)")
    assert reads(Pool._terminate_pool, "_help_stuff_finish"), HELP_STUFF_FINISH.changed(
        "called by Pool._terminate_pool"
    )


def test_billiard_simple_queue_has_a_read_lock_with_a_timeout_and_a_reader():
    import billiard

    inqueue = billiard.get_context().SimpleQueue()
    lock, reader = getattr(inqueue, "_rlock", None), getattr(inqueue, "_reader", None)
    assert lock is not None and "timeout" in parameters(lock.acquire), INQUEUE.changed(
        "_rlock.acquire(timeout=)"
    )
    assert lock.acquire(timeout=0.01), INQUEUE.changed("an unheld _rlock can be taken")
    lock.release()
    assert callable(getattr(reader, "poll", None)) and callable(getattr(reader, "recv", None)), (
        INQUEUE.changed("_reader.poll() and _reader.recv()")
    )


# --- gunicorn, uvicorn, uvicorn-worker ------------------------------------------------------------

GUNICORN_SETTINGS = Private("gunicorn", "the settings a config file may set", "api/gunicorn_config.py")
CONFIG_KWARGS = Private("uvicorn-worker", "UvicornWorker.CONFIG_KWARGS", "api/gunicorn_config.py")
H11_PROTOCOL = Private("uvicorn", "H11Protocol's methods and attributes", "api/http_protocol.py")


def test_gunicorn_knows_every_setting_our_config_file_sets():
    """gunicorn skips, silently, a name of a config file that is not one of its settings."""
    from gunicorn.config import KNOWN_SETTINGS

    from api import gunicorn_config

    ours = {
        name
        for name, value in vars(gunicorn_config).items()
        if name.islower()
        and not name.startswith("_")
        # what the module defines itself: values, and hooks such as on_starting (not its imports)
        and getattr(value, "__module__", gunicorn_config.__name__) == gunicorn_config.__name__
        and not inspect.ismodule(value)
    }
    assert {"worker_class", "timeout", "control_socket_disable", "on_starting"} <= ours  # the filter itself
    unknown = ours - {setting.name for setting in KNOWN_SETTINGS}
    assert not unknown, GUNICORN_SETTINGS.changed(f"settings named {sorted(unknown)}")


def test_uvicorn_worker_passes_config_kwargs_to_uvicorn_config():
    import uvicorn
    from uvicorn_worker import UvicornWorker

    from api.gunicorn_config import ApiWorker

    assert isinstance(UvicornWorker.CONFIG_KWARGS, dict), CONFIG_KWARGS.changed("a dict on the class")
    assert reads(UvicornWorker.__init__, "CONFIG_KWARGS"), CONFIG_KWARGS.changed("read by __init__")
    unknown = set(ApiWorker.CONFIG_KWARGS) - set(parameters(uvicorn.Config.__init__))
    assert not unknown, CONFIG_KWARGS.changed(f"uvicorn.Config takes {sorted(unknown)}")


def test_uvicorn_h11_protocol_has_the_connection_cycle_and_hooks_we_override():
    import h11
    import uvicorn
    from uvicorn.protocols.http.h11_impl import H11Protocol, RequestResponseCycle
    from uvicorn.server import ServerState

    hooks = {
        "connection_made": ["self", "transport"],
        "data_received": ["self", "data"],
        "eof_received": ["self"],
        "connection_lost": ["self", "exc"],
        "on_response_complete": ["self"],
        "send_400_response": ["self", "msg"],
    }
    for name, expected in hooks.items():
        assert parameters(getattr(H11Protocol, name)) == expected, H11_PROTOCOL.changed(f"{name}{expected}")
    assert reads(H11Protocol.handle_events, "send_400_response"), H11_PROTOCOL.changed(
        "answers 400 through it"
    )
    assert reads(H11Protocol.handle_events, "on_response_complete"), H11_PROTOCOL.changed(
        "the cycle calls it"
    )
    loop = asyncio.new_event_loop()
    try:
        config = uvicorn.Config(app=lambda *_: None, http=H11Protocol, lifespan="off")
        protocol = H11Protocol(config=config, server_state=ServerState(), app_state={}, _loop=loop)
    finally:
        loop.close()
    assert isinstance(protocol.conn, h11.Connection) and protocol.loop is loop, H11_PROTOCOL.changed(
        "conn, loop"
    )
    assert protocol.cycle is None and hasattr(protocol, "transport"), H11_PROTOCOL.changed("cycle, transport")
    for attribute in ("response_complete", "keep_alive"):
        assert reads(RequestResponseCycle.__init__, attribute), H11_PROTOCOL.changed(f"cycle.{attribute}")


# --- a2wsgi -------------------------------------------------------------------------------------

A2WSGI = Private("a2wsgi", "WSGIMiddleware's attributes and WSGIResponder", "api/asgi.py")


def test_a2wsgi_middleware_hands_its_app_executor_and_queue_size_to_a_responder_that_sends():
    from a2wsgi.wsgi import WSGIMiddleware, WSGIResponder

    middleware = WSGIMiddleware(lambda environ, start_response: [], workers=1)
    try:
        for attribute in ("app", "executor", "send_queue_size"):
            assert hasattr(middleware, attribute), A2WSGI.changed(f"WSGIMiddleware.{attribute}")
    finally:
        middleware.executor.shutdown()
    assert parameters(WSGIResponder.__init__) == ["self", "app", "executor", "send_queue_size"], (
        A2WSGI.changed("WSGIResponder(app, executor, send_queue_size)")
    )
    assert parameters(WSGIResponder.send) == ["self", "message"], A2WSGI.changed(
        "WSGIResponder.send(message)"
    )
    assert reads(WSGIResponder.start_response, "send"), A2WSGI.changed("the app's writes go through send")


# --- webargs, flask-smorest -----------------------------------------------------------------------

RAW_LOAD_JSON = Private("webargs", "FlaskParser._raw_load_json", "api/json_body.py")
ARGUMENTS_PARSER = Private("flask-smorest", "Blueprint.ARGUMENTS_PARSER", "api/json_body.py")
REGISTER_ERROR_HANDLERS = Private(
    "flask-smorest", "Api._register_error_handlers and Api._app", "api/errors.py"
)
HANDLE_HTTP_EXCEPTION = Private("flask-smorest", "Api.handle_http_exception", "api/errors.py")
PAGINATION_METADATA = Private("flask-smorest", "Blueprint._document_pagination_metadata", "api/pagination.py")


def test_webargs_reads_json_bodies_through_raw_load_json():
    import flask
    from marshmallow import Schema, fields
    from webargs import core
    from webargs.flaskparser import FlaskParser, is_json_request
    from werkzeug.exceptions import HTTPException

    from api.json_body import JsonBodyParser

    class Body(Schema):
        n = fields.Raw()

    assert parameters(FlaskParser._raw_load_json) == ["self", "req"], RAW_LOAD_JSON.changed("(req)")
    assert callable(core.parse_json) and core.missing is not None and callable(is_json_request), (
        RAW_LOAD_JSON.changed("webargs.core.parse_json, core.missing, flaskparser.is_json_request")
    )
    app = flask.Flask(__name__)
    with (
        app.test_request_context(data='{"n": NaN}', content_type="application/json"),
        pytest.raises(HTTPException) as refused,
    ):
        JsonBodyParser().load_json(flask.request, Body())
    assert refused.value.code == 422, RAW_LOAD_JSON.changed("load_json calls our _raw_load_json")


def test_flask_smorest_parses_arguments_with_the_blueprints_arguments_parser():
    import flask_smorest

    from api.json_body import Blueprint, JsonBodyParser

    assert hasattr(flask_smorest.Blueprint, "ARGUMENTS_PARSER"), ARGUMENTS_PARSER.changed("a class attribute")
    assert isinstance(Blueprint.ARGUMENTS_PARSER, JsonBodyParser)
    assert reads(flask_smorest.Blueprint.arguments, "ARGUMENTS_PARSER"), ARGUMENTS_PARSER.changed(
        "used by Blueprint.arguments"
    )


def test_flask_smorest_api_registers_its_error_handlers_through_one_method():
    import flask
    from flask_smorest import Api

    calls: list[flask.Flask] = []

    class Recorded(Api):  # type: ignore[misc]
        def _register_error_handlers(self) -> None:
            calls.append(self._app)
            super()._register_error_handlers()

    app = flask.Flask(__name__)
    app.config.update(API_TITLE="guard", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    Recorded(app)
    assert parameters(Api._register_error_handlers) == ["self"], REGISTER_ERROR_HANDLERS.changed(
        "no argument"
    )
    assert calls == [app], REGISTER_ERROR_HANDLERS.changed("called once by init_app, with self._app set")


def test_flask_smorest_handle_http_exception_answers_payload_code_and_headers():
    import flask
    from flask_smorest import Api
    from werkzeug.exceptions import NotFound

    app = flask.Flask(__name__)
    app.config.update(API_TITLE="guard", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    api = Api(app)
    assert parameters(Api.handle_http_exception) == ["self", "error"], HANDLE_HTTP_EXCEPTION.changed(
        "(error)"
    )
    with app.test_request_context():
        answer = api.handle_http_exception(NotFound())
    assert isinstance(answer, tuple) and len(answer) == 3, HANDLE_HTTP_EXCEPTION.changed(
        "(payload, code, headers)"
    )
    payload, code, _headers = answer
    assert isinstance(payload, dict) and code == 404, HANDLE_HTTP_EXCEPTION.changed(
        "payload dict, status code"
    )


def test_flask_smorest_documents_the_pagination_header_through_one_method():
    from flask_smorest import Blueprint

    assert parameters(Blueprint._document_pagination_metadata) == ["self", "spec", "resp_doc"], (
        PAGINATION_METADATA.changed("_document_pagination_metadata(spec, resp_doc)")
    )
    assert isinstance(getattr(Blueprint, "PAGINATION_HEADER_NAME", None), str), PAGINATION_METADATA.changed(
        "PAGINATION_HEADER_NAME"
    )
    assert reads(Blueprint._prepare_pagination_doc, "_document_pagination_metadata"), (
        PAGINATION_METADATA.changed("called when the paginated endpoints are documented")
    )


# --- celery, kombu --------------------------------------------------------------------------------

REQUEST = Private(
    "celery",
    "Request.request_dict, .time_limits, .delivery_info",
    "netraven_tasks/celery_integration.py, netraven_tasks/jobs/deferral.py",
)
REVOKED = Private("celery", "Request.revoked() and ._already_revoked", "netraven_tasks/celery_integration.py")
WORKER_STATE = Private(
    "celery",
    "worker.state.reserved_requests, .active_requests, task_ready()",
    "netraven_tasks/celery_integration.py, netraven_tasks/heartbeat_step.py",
)
EVENT_DISPATCHER = Private("celery", "send_task(event_dispatcher=...)", "netraven_tasks/batches/launch.py")
REDIS_TRANSPORT = Private(
    "kombu", "redis transport options unacked_restore_interval/_throttle", "netraven_tasks/celery_app.py"
)


@pytest.fixture
def celery_request() -> Any:
    """A worker's Request of one message, as the worker's main process makes it (no broker)."""
    from celery import Celery
    from celery.contrib.testing.mocks import TaskMessage
    from celery.worker.request import Request

    app = Celery("guard", broker="memory://", set_as_current=False)

    @app.task(name="guard.job", shared=False)
    def job(host: str) -> None: ...

    message = TaskMessage("guard.job", id="guard-1", kwargs={"host": "r1"})
    return Request(message, app=app, task=app.tasks["guard.job"])


def test_celery_request_exposes_the_headers_the_pool_child_gets_and_the_time_limits(celery_request):
    headers = getattr(celery_request, "request_dict", None)
    assert isinstance(headers, dict) and headers.get("id") == "guard-1", REQUEST.changed(
        "request_dict: a dict"
    )
    limits = getattr(celery_request, "time_limits", None)
    assert isinstance(limits, tuple) and len(limits) == 2, REQUEST.changed("time_limits: (hard, soft)")
    assert isinstance(celery_request.delivery_info, dict), REQUEST.changed("delivery_info: a dict")


def test_celery_request_revoked_honours_already_revoked(celery_request):
    assert parameters(type(celery_request).revoked) == ["self"], REVOKED.changed("revoked() of no argument")
    assert celery_request.revoked() is False, REVOKED.changed("a fresh request is not revoked")
    celery_request._already_revoked = True
    assert celery_request.revoked() is True, REVOKED.changed("_already_revoked makes revoked() true")


def test_celery_worker_state_tracks_reserved_and_active_requests_until_task_ready(celery_request):
    from celery.worker import state

    for name in ("reserved_requests", "active_requests"):
        assert hasattr(getattr(state, name, None), "__contains__"), WORKER_STATE.changed(f"state.{name}")
    state.task_reserved(celery_request)
    state.task_accepted(celery_request)
    try:
        assert celery_request in state.reserved_requests, WORKER_STATE.changed("reserved requests are kept")
        assert celery_request in state.active_requests, WORKER_STATE.changed("running requests are kept")
    finally:
        state.task_ready(celery_request)
    assert celery_request not in state.reserved_requests and celery_request not in state.active_requests, (
        WORKER_STATE.changed("task_ready(request) forgets the request")
    )


def test_celery_send_task_gives_the_sent_event_to_the_event_dispatcher_it_is_handed():
    from celery import Celery

    from netraven_tasks.batches.launch import SentEvents

    sent: list[tuple[str, dict[str, Any]]] = []

    class Dispatcher:
        def publish(self, kind: str, fields: dict[str, Any], producer: Any, **_: Any) -> None:
            sent.append((kind, fields))

    app = Celery("guard", broker="memory://", set_as_current=False)
    app.conf.task_send_sent_event = True
    with app.producer_or_acquire() as producer:
        app.send_task(
            "guard.job", kwargs={}, task_id="guard-2", producer=producer, event_dispatcher=Dispatcher()
        )
    assert [(kind, fields.get("uuid")) for kind, fields in sent] == [("task-sent", "guard-2")], (
        EVENT_DISPATCHER.changed("publish('task-sent', fields, producer, ...) on the dispatcher given")
    )
    assert parameters(SentEvents.publish)[:4] == ["self", "kind", "fields", "producer"]


def test_kombu_redis_transport_reads_the_redelivery_options_we_set():
    from kombu.transport.redis import Channel

    from netraven_tasks.celery_app import redis_redelivery_options

    ours = set(redis_redelivery_options(3600))
    unknown = ours - set(Channel.from_transport_options)
    assert not unknown, REDIS_TRANSPORT.changed(f"transport options named {sorted(unknown)}")
    assert all(isinstance(getattr(Channel, name, None), int) for name in ours), REDIS_TRANSPORT.changed(
        "each a number of seconds (or of sweeps) on the channel"
    )


# --- the list -----------------------------------------------------------------------------------


def test_contributing_lists_every_guard_and_each_names_a_file_that_exists():
    guide = (ROOT / "CONTRIBUTING.md").read_text()
    guards = [name for name in globals() if name.startswith("test_") and "contributing" not in name]
    assert not [name for name in guards if f"`{name}`" not in guide], "CONTRIBUTING.md: a guard is not listed"
    privates = [value for value in globals().values() if isinstance(value, Private)]
    for private in privates:
        for path in re.split(r",\s*", private.used_by):
            assert (ROOT / path).is_file(), f"{private.api}: {path} does not exist"
