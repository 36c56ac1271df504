"""One typed settings tree for the whole system (pydantic-settings; ADR 0013).

`Settings.from_env()` reads every THREADWEAVER_* variable (and AWS_REGION) once, when a
component starts; a bad value raises `SettingsError` naming the variable and the rule.
"""

from pipeline.settings.api import ApiSettings, AuthMode, AuthSettings, JwtAlgorithm
from pipeline.settings.base import PREFIX, Section, SettingsError
from pipeline.settings.components import (
    LogFormat,
    LogLevel,
    LogSettings,
    MirrorSettings,
    ProjectorSettings,
    WorkerRuntime,
    WorkerSettings,
    WriteMethod,
)
from pipeline.settings.kafka import KafkaSecuritySettings, KafkaTuning
from pipeline.settings.tree import Settings, StackSettings, Topics

__all__ = [
    "PREFIX",
    "ApiSettings",
    "AuthMode",
    "AuthSettings",
    "JwtAlgorithm",
    "KafkaSecuritySettings",
    "KafkaTuning",
    "LogFormat",
    "LogLevel",
    "LogSettings",
    "MirrorSettings",
    "ProjectorSettings",
    "Section",
    "Settings",
    "SettingsError",
    "StackSettings",
    "Topics",
    "WorkerRuntime",
    "WorkerSettings",
    "WriteMethod",
]
