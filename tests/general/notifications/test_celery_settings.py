"""Celery is configured so that lost work comes back and a stuck or poisoned worker cannot hide it (check 26)."""
from __future__ import annotations

from app.general.notifications import tasks


def test_celery_settings_survive_a_killed_worker(app):
    conf = app.extensions["celery"].conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.worker_cancel_long_running_tasks_on_connection_loss is True


def test_time_limits_are_set_and_below_the_visibility_timeout(app):
    conf = app.extensions["celery"].conf
    assert conf.task_soft_time_limit and conf.task_time_limit
    assert conf.task_soft_time_limit < conf.task_time_limit
    # A redis message not acknowledged within the visibility timeout is handed to another worker:
    # it must outlast the longest task, or a slow task runs twice at once.
    assert app.config["CELERY"]["broker_transport_options"]["visibility_timeout"] > conf.task_time_limit


def test_only_json_travels_through_the_broker(app):
    conf = app.extensions["celery"].conf
    assert conf.task_serializer == "json" and conf.result_serializer == "json"
    assert list(conf.accept_content) == ["json"]


def test_a_stale_sending_row_is_reclaimed_only_after_any_send_could_have_finished(app):
    assert app.config["NOTIFY_STALE_SENDING_SECONDS"] > max(app.config["MAIL_TIMEOUT"], app.config["SMS_TIMEOUT"])
    assert app.config["NOTIFY_MAX_ATTEMPTS"] >= 1


def test_the_dispatch_task_acks_late_and_the_sweep_is_on_the_beat(app):
    celery_app = app.extensions["celery"]
    assert celery_app.tasks[tasks.dispatch.name].acks_late is True
    schedule = {entry["task"]: entry["schedule"] for entry in celery_app.conf.beat_schedule.values()}
    assert schedule["notifications.sweep_pending"] == 60.0
    assert "app.general.notifications.tasks" in celery_app.conf.include


def test_production_redis_settings_bound_a_publish_and_outlast_the_longest_task():
    from config import celery_settings

    settings = celery_settings("redis://redis.internal:6379/0")
    options = settings["broker_transport_options"]
    assert options["visibility_timeout"] > settings["task_time_limit"]
    # a request that commits waits seconds for a broker that is away, never forever
    assert 0 < options["socket_connect_timeout"] <= options["socket_timeout"] <= 10
    assert settings["task_acks_late"] and settings["task_reject_on_worker_lost"]
    assert settings["worker_prefetch_multiplier"] == 1
