"""Record and replay real HTTP traffic of the openai SDK."""

from kit.recording.client import async_client, client, session_of, wrap_http_client
from kit.recording.errors import ChainNotRecorded, CorruptRecording, RecordingError, ReplayMiss, SecretInRecording
from kit.setups.modes import InferenceMode, ReplayStyle, resolve_mode, resolve_recording_dir
from kit.recording.store import Recording, RecordingStore, load_recording

__all__ = [
    "ChainNotRecorded", "CorruptRecording", "InferenceMode", "Recording", "RecordingError", "RecordingStore", "ReplayMiss",
    "ReplayStyle", "SecretInRecording", "async_client", "client", "load_recording", "resolve_mode",
    "resolve_recording_dir", "session_of", "wrap_http_client",
]
